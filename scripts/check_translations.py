"""The translation check of ``make test``: what a user reads is marked for translation, and the
Canadian French catalogue has every marked string, translated and not fuzzy.

1. Templates: text between tags, and the ``title``, ``aria-label``, ``placeholder`` and
   ``alt`` attributes, must come from ``{% translate %}`` / ``{% blocktranslate %}`` (or a
   variable). Text that is only digits, punctuation, symbols or the product's name passes.
2. Python: a string literal given to ``messages.*``, ``ValidationError``, or as a ``label``,
   ``help_text`` or ``verbose_name`` must be wrapped in ``gettext`` / ``gettext_lazy`` (``_``).
3. The catalogue: ``makemessages`` is run on a copy of the project (the real one is left
   alone), and every entry of the result must be translated and not fuzzy; ``msgfmt --check``
   checks the placeholders of each translation against its source.

The whole interface is translated in slices: ``PENDING`` lists what is not yet, and shrinks to
nothing. A file not in it that regresses fails the check.

Run: .venv/bin/python scripts/check_translations.py
"""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LOCALE = "fr_CA"
CATALOGUE = ROOT / "locale" / LOCALE / "LC_MESSAGES" / "django.po"
# What makemessages reads: the product's code and templates, not its tests, tools or the
# simulator (which speaks Amazon's English, as Amazon's API does).
SOURCES = ("accounts", "inventory_sync", "marketplaces", "synchistory", "warehouses", "templates")
NOT_SOURCES = ("migrations", "management")

# Not translated yet (the next slices of the French interface).
PENDING = {
    "templates/accounts/audit_log.html",
    "templates/marketplaces",
    "templates/synchistory",
    "templates/warehouses/item_detail.html",
    "templates/warehouses/item_list.html",
    "accounts/admin.py",
    "accounts/audit.py",
    "inventory_sync",
    "marketplaces",
    "synchistory",
    "warehouses/admin.py",
    "warehouses/services.py",
    "warehouses/stock.py",
    "warehouses/exchange_rates.py",
    "warehouses/currency.py",
    "warehouses/bank_of_canada.py",
    "warehouses/attention.py",
    "warehouses/signals.py",
    "warehouses/tasks.py",
}

TEXT_ATTRIBUTES = {"title", "aria-label", "placeholder", "alt"}
WORD = re.compile(r"[^\W\d_]{2,}")  # two letters or more, in any alphabet
ALLOWED = {"inventory-sync"}
ENTITY = re.compile(r"&[#\w]+;")


def shown(path: Path) -> str:
    return path.relative_to(ROOT).as_posix() if path.is_relative_to(ROOT) else str(path)


def pending(path: Path) -> bool:
    relative = path.relative_to(ROOT).as_posix()
    return any(relative == p or relative.startswith(p + "/") for p in PENDING)


def source_files(suffix: str) -> Iterator[Path]:
    for top in SOURCES:
        for path in sorted((ROOT / top).rglob(f"*{suffix}")):
            if not any(part in NOT_SOURCES for part in path.parts) and not pending(path):
                yield path


# -- 1. templates -------------------------------------------------------------------------------


def untranslated_text(text: str) -> bool:
    text = ENTITY.sub(" ", text)
    for allowed in ALLOWED:
        text = text.replace(allowed, " ")
    return bool(WORD.search(text))


class HtmlScanner:
    """Follows the HTML of a template's text tokens (a tag may span several tokens) and
    collects the text a user reads: outside tags (not in script, style or comments) and in
    the text attributes."""

    def __init__(self) -> None:
        self.in_tag = False
        self.tag = ""
        self.attribute = ""
        self.quote = ""
        self.raw_until = ""  # inside <script> or <style>: until this closing tag
        self.in_comment = False

    def feed(self, chunk: str) -> list[str]:
        readable: list[str] = []
        text = ""
        i = 0
        while i < len(chunk):
            c = chunk[i]
            if self.in_comment:
                end = chunk.find("-->", i)
                if end < 0:
                    return self._flush(readable, text)
                self.in_comment, i = False, end + 3
                continue
            if self.raw_until:
                end = chunk.lower().find(self.raw_until, i)
                if end < 0:
                    return self._flush(readable, text)
                self.raw_until, i = "", end
                continue
            if self.quote:
                if c == self.quote:
                    if self.attribute in TEXT_ATTRIBUTES:
                        readable.append(text)
                    text, self.quote, self.attribute = "", "", ""
                elif self.attribute in TEXT_ATTRIBUTES:
                    text += c
                i += 1
                continue
            if self.in_tag:
                if c == ">":
                    self.in_tag = False
                    if self.tag in ("script", "style"):
                        self.raw_until = f"</{self.tag}"
                elif c in "\"'":
                    match = re.search(r"([\w:-]+)\s*=\s*$", chunk[:i])
                    self.attribute = match.group(1).lower() if match else ""
                    self.quote = c
                i += 1
                continue
            if chunk.startswith("<!--", i):
                readable.append(text)
                text, self.in_comment, i = "", True, i + 4
                continue
            if c == "<":
                readable.append(text)
                text = ""
                match = re.match(r"</?([a-zA-Z][\w-]*)", chunk[i:])
                self.tag = match.group(1).lower() if match else ""
                self.in_tag = True
                i += 1
                continue
            text += c
            i += 1
        return self._flush(readable, text)

    def _flush(self, readable: list[str], text: str) -> list[str]:
        outside = not self.in_tag and not self.quote and not self.raw_until
        in_text_attribute = bool(self.quote) and self.attribute in TEXT_ATTRIBUTES
        if text and (outside or in_text_attribute):
            readable.append(text)
        return readable


def template_problems(path: Path) -> list[str]:
    from django.template.base import Lexer, TokenType

    problems = []
    scanner = HtmlScanner()
    in_blocktranslate = False
    for token in Lexer(path.read_text(encoding="utf-8")).tokenize():
        if token.token_type == TokenType.BLOCK:
            name = token.contents.split()[0] if token.contents else ""
            if name in ("blocktranslate", "blocktrans"):
                in_blocktranslate = True
            elif name in ("endblocktranslate", "endblocktrans"):
                in_blocktranslate = False
            continue
        if token.token_type != TokenType.TEXT:
            continue
        readable = scanner.feed(token.contents)
        if in_blocktranslate:
            continue
        for text in readable:
            if untranslated_text(text):
                line = token.lineno
                problems.append(f"{shown(path)}:{line}: not marked: {text.strip()!r}")
    return problems


# -- 2. Python ------------------------------------------------------------------------------

GETTEXT = {"_", "gettext", "gettext_lazy", "ngettext", "ngettext_lazy", "pgettext", "format_lazy"}
MESSAGE_LEVELS = {"debug", "info", "success", "warning", "error"}
TEXT_KEYWORDS = {"label", "help_text", "verbose_name", "verbose_name_plural"}


def _plain_text(node: ast.AST) -> bool:
    """A literal (or f-string) a user would read, not wrapped in a gettext call."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return untranslated_text(node.value)
    return isinstance(node, ast.JoinedStr)


def _name(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_name(node.value)}.{node.attr}"
    return ""


def python_problems(path: Path) -> list[str]:
    problems = []
    source = path.read_text(encoding="utf-8")
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        name = _name(node.func)
        read: list[ast.expr] = []
        if name.startswith("messages.") and name.split(".")[-1] in MESSAGE_LEVELS:
            read = list(node.args[1:2])
        elif name.split(".")[-1] == "ValidationError":
            read = list(node.args[:1])
        read += [kw.value for kw in node.keywords if kw.arg in TEXT_KEYWORDS]
        for argument in read:
            if _plain_text(argument):
                text = ast.get_source_segment(source, argument)
                problems.append(f"{shown(path)}:{argument.lineno}: not marked: {text}")
    return problems


# -- 3. the catalogue -------------------------------------------------------------------------


def catalogue_problems() -> list[str]:
    if shutil.which("msgfmt") is None:
        return ["msgfmt is missing (GNU gettext): apt-get install gettext"]
    problems = []
    with tempfile.TemporaryDirectory(prefix="translations-") as tmp:
        copy = Path(tmp) / "project"
        copy.mkdir()
        for name in (*SOURCES, "locale", "manage.py"):
            source = ROOT / name
            if source.is_dir():
                shutil.copytree(source, copy / name, ignore=shutil.ignore_patterns("*.mo"))
            else:
                shutil.copy2(source, copy / name)
        made = subprocess.run(
            [sys.executable, "manage.py", "makemessages", "-l", LOCALE, "--no-obsolete", "-v", "0"],
            cwd=copy,
            capture_output=True,
            text=True,
            check=False,
        )
        if made.returncode:
            return [f"makemessages failed: {made.stderr.strip()}"]
        fresh = copy / CATALOGUE.relative_to(ROOT)
        for option, what in (("--untranslated", "not translated"), ("--only-fuzzy", "fuzzy")):
            listed = subprocess.run(
                ["msgattrib", option, "--no-obsolete", "--no-wrap", str(fresh)],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            for msgid in re.findall(r'^msgid "(.+)"$', listed, re.MULTILINE):
                problems.append(f"{CATALOGUE.relative_to(ROOT)}: {what}: {msgid}")
    checked = subprocess.run(
        ["msgfmt", "--check", "-o", "/dev/null", str(CATALOGUE)],
        capture_output=True,
        text=True,
        check=False,
    )
    if checked.returncode:
        problems.append(checked.stderr.strip())
    return problems


def main() -> int:
    import os

    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "inventory_sync.settings")
    import django

    django.setup()
    problems = [p for path in source_files(".html") for p in template_problems(path)]
    problems += [p for path in source_files(".py") for p in python_problems(path)]
    problems += catalogue_problems()
    for problem in problems:
        print(problem)
    if problems:
        print(
            f"{len(problems)} translation problem(s): mark the strings, then run "
            f"`manage.py makemessages -l {LOCALE} --ignore=.venv --ignore=tests "
            "--ignore=benchmarks --ignore=spapi_simulator --ignore=docs` and translate locale/."
        )
        return 1
    print("Translations: every string marked, the fr_CA catalogue complete.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
