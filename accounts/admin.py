"""The Django admin for users and the audit log.

A user's role and the permission to see buyers' personal data change only through
``accounts.services``, which audits them: the user form's Role and "personal data" fields are
saved by those services, and the other ways to grant a permission (superuser status, groups,
per-user permissions, a group's permissions) are read-only here.
"""

from typing import TYPE_CHECKING, Any

from django import forms
from django.contrib import admin
from django.contrib.auth import admin as auth_admin
from django.contrib.auth import forms as auth_forms
from django.contrib.auth.admin import GroupAdmin as BaseGroupAdmin
from django.contrib.auth.models import Group
from django.http import HttpRequest

from accounts import audit, services
from accounts.models import AuditEvent, User
from inventory_sync.generics import generic

if TYPE_CHECKING:
    from django.contrib.admin import ModelAdmin
    from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
    from django.contrib.auth.forms import UserChangeForm
else:
    ModelAdmin = generic(admin.ModelAdmin)
    BaseUserAdmin = generic(auth_admin.UserAdmin)
    UserChangeForm = generic(auth_forms.UserChangeForm)

# Read-only: each would grant the personal-data permission (or everything) unaudited.
PERMISSION_FIELDS = ("is_superuser", "groups", "user_permissions")


class UserAdminChangeForm(UserChangeForm[User]):
    view_personal_data = forms.BooleanField(
        required=False,
        label="Can see buyers' personal data unmasked",
        help_text="Admins see it by their role; this grants it to a staff user. Audited.",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["view_personal_data"].initial = services.has_personal_data_permission(
                self.instance
            )

    def clean_role(self) -> str:
        role: str = self.cleaned_data["role"]
        if self.instance.is_superuser and role != User.Role.ADMIN:
            raise forms.ValidationError("A superuser is always an admin.")
        return role


@admin.register(User)
class UserAdmin(BaseUserAdmin[User]):
    form = UserAdminChangeForm
    list_display = ("username", "email", "role", "is_active", "last_login")
    list_filter = ("role", "is_active")
    fieldsets = (
        *(auth_admin.UserAdmin.fieldsets or ()),
        ("Role", {"fields": ("role", "view_personal_data")}),
    )
    add_fieldsets = (*auth_admin.UserAdmin.add_fieldsets, ("Role", {"fields": ("role",)}))
    readonly_fields = PERMISSION_FIELDS

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        """The role and the personal-data permission go through the audited services."""
        role = obj.role
        if change:
            obj.role = User.objects.only("role").get(pk=obj.pk).role
        else:
            obj.role = User._meta.get_field("role").get_default()
        super().save_model(request, obj, form, change)
        actor = audit.Actor.from_request(request)
        services.do_change_user_role(obj, role, actor=actor)
        if "view_personal_data" in form.cleaned_data:
            services.do_set_personal_data_permission(
                obj, form.cleaned_data["view_personal_data"], actor=actor
            )


admin.site.unregister(Group)


@admin.register(Group)
class GroupAdmin(BaseGroupAdmin):
    """A group's permissions are read-only: granting one here would be unaudited."""

    readonly_fields = ("permissions",)


@admin.register(AuditEvent)
class AuditEventAdmin(ModelAdmin[AuditEvent]):
    """Read-only: the audit log is written by the product, never edited by hand."""

    list_display = ("created_at", "username", "action", "target_type", "target_id", "ip_address")
    list_filter = ("action",)
    show_full_result_count = False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
