"""A build context tree and a table of .dockerignore files, shared by test_build_context_tar.py
and the script that recorded what the real docker CLI 28.2 sends for each (golden_context.json)."""

from __future__ import annotations

import os

FILES = [
    "Dockerfile",
    "README.md",
    "a.txt",
    "b.txt",
    "temp",
    "tempa",
    "tempab",
    "src/main.go",
    "src/temp.txt",
    "src/util/helper.go",
    "src/util/helper_test.go",
    "docs/guide.md",
    "docs/api/index.md",
    "node_modules/pkg/index.js",
    "node_modules/pkg/README.md",
    "build/out.bin",
    "build/keep/me.txt",
    ".git/HEAD",
    ".git/objects/ab/cdef",
    ".hidden",
    "sub/Dockerfile",
    "sub/inner/file.txt",
    "x/y/z/deep.txt",
    "space name.txt",
    "[weird].txt",
    "\u00fcn\u00efcode.txt",
    "A.TXT",
]

# name -> (.dockerignore content or None, -f relative to the context or None)
VARIANTS: dict[str, tuple[str | None, str | None]] = {
    "none": (None, None),
    "md": ("*.md\n", None),
    "md_any_depth": ("**/*.md\n", None),
    "md_one_level": ("*/*.md\n", None),
    "all_but_readme": ("*\n!README.md\n", None),
    "dir": ("node_modules\n", None),
    "dir_exception_dir": ("build\n!build/keep\n", None),
    "dir_exception_file": ("build\n!build/keep/me.txt\n", None),
    "go_exception": ("**/*.go\n!**/helper.go\n", None),
    "test_files": ("src/**/*_test.go\n", None),
    "docs_example": ("# comment\n*/temp*\n*/*/temp*\ntemp?\n", None),
    "git_txt": (".git\n*.txt\n!a.txt\n", None),
    "build_files": ("Dockerfile\n.dockerignore\n", None),
    "everything": ("*\n", None),
    "slashes": ("/docs/\n", None),
    "clean": ("docs/../src\n", None),
    "whitespace": ("  a.txt  \n\n\t\n  # not a comment\n", None),
    "prefix": ("x/**\n", None),
    "double_star": ("**\n", None),
    "suffix_dir": ("**/z\n", None),
    "class": ("[ab].txt\n", None),
    "question": ("?.txt\n", None),
    "exception_only": ("!a.txt\n", None),
    "reinclude_then_exclude": ("src\n!src/util\nsrc/util/helper_test.go\n", None),
    "deep_exception": ("x\n!x/y/z/deep.txt\n", None),
    "depth_three": ("*/*/*.go\n", None),
    "star_keep": ("**/keep\n", None),
    "wildcard_exception": ("src/*\n!src/util/helper.go\n", None),
    "escape": ("\\[weird\\].txt\n", None),
    "hidden": (".*\n", None),
    "case": ("*.TXT\n", None),
    "trailing_slash_file": ("a.txt/\n", None),
    "unicode": ("\u00fcn\u00efcode*\n", None),
    "space": ("space name.txt\n", None),
    "crlf_bom": ("\ufeffa.txt\r\nb.txt\r\n", None),
    "negated_class": ("[^a].txt\n", None),
    "sub_dockerfile_excluded": ("sub\n", "sub/Dockerfile"),
    "sub_dockerfile_deep_pattern": ("**/sub\n", "sub/Dockerfile"),
    "exception_wildcard_dir": ("src\n!*/util\n", None),
    "bad_pattern": ("a[\n", None),
    "bad_exclusion": ("!\n", None),
    "trailing_backslash": ("a\\\n", None),
}


def make_tree(root: str) -> None:
    """The tree, with fixed modes and times so headers can be compared byte for byte."""
    for rel in FILES:
        path = os.path.join(root, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(f"FROM scratch\n# {rel}\n" if rel.endswith("Dockerfile") else rel + "\n")
    os.makedirs(os.path.join(root, "empty"))
    os.link(os.path.join(root, "a.txt"), os.path.join(root, "src", "a-link.txt"))
    os.symlink("a.txt", os.path.join(root, "ln"))
    os.chmod(os.path.join(root, "b.txt"), 0o4750)
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            os.utime(os.path.join(dirpath, name), (1_600_000_000, 1_600_000_000), follow_symlinks=False)
    os.utime(root, (1_600_000_000, 1_600_000_000))


def make_context(root: str, key: str) -> None:
    """The tree with the .dockerignore of VARIANTS[key]."""
    make_tree(root)
    ignore, _ = VARIANTS[key]
    if ignore is not None:
        with open(os.path.join(root, ".dockerignore"), "w") as f:
            f.write(ignore)
