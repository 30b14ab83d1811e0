""".dockerignore patterns: Docker's documented examples and moby/patternmatcher's edge cases."""

from __future__ import annotations

import pytest

from dockyard.build import gopath
from dockyard.build.dockerignore import MatchInfo, PatternMatcher, read_patterns
from dockyard.errors import InvalidArgument

# (patterns, path, excluded?) -- MatchesOrParentMatches, what the daemon and the CLI's walk agree on
TABLE: list[tuple[list[str], str, bool]] = [
    # docs.docker.com .dockerignore examples
    (["*/temp*"], "somedir/temporary.txt", True),
    (["*/temp*"], "somedir/temp", True),
    (["*/temp*"], "temp", False),
    (["*/*/temp*"], "somedir/subdir/temporary.txt", True),
    (["*/*/temp*"], "somedir/temporary.txt", False),
    (["temp?"], "tempa", True),
    (["temp?"], "tempb", True),
    (["temp?"], "temp", False),
    (["temp?"], "tempab", False),
    (["**/*.go"], "a/b/c.go", True),
    (["**/*.go"], "c.go", True),
    (["*.md", "!README.md"], "README.md", False),
    (["*.md", "!README.md"], "CHANGES.md", True),
    (["*.md", "!README*.md", "README-secret.md"], "README-secret.md", True),
    (["*.md", "!README*.md", "README-secret.md"], "README-public.md", False),
    (["*.md", "README-secret.md", "!README*.md"], "README-secret.md", False),
    # a directory pattern excludes what is below it
    (["docs"], "docs/README.md", True),
    (["docs"], "docs/a/b/c", True),
    (["docs"], "docsx", False),
    (["docs", "!docs/README.md"], "docs/README.md", False),
    (["docs/", "!docs/README.md"], "docs/README.md", False),
    (["docs/*", "!docs/README.md"], "docs/README.md", False),
    (["!fileutils.go", "*.go"], "fileutils.go", True),
    (["*.go", "!fileutils.go"], "fileutils.go", False),
    (["*"], "fileutils.go", True),
    (["*"], "a/b", True),  # through its parent
    (["*.go"], ".", False),  # never the whole context
    # patternmatcher's TestMatches
    (["**"], "file", True),
    (["**"], "dir/file", True),
    (["**/"], "file", True),
    (["**/**"], "dir/file", True),
    (["dir/**"], "dir/file", True),
    (["dir/**"], "dir/dir2/file", True),
    (["**/dir"], "dir", True),
    (["**/dir"], "dir/file", True),
    (["**/dir2/*"], "dir/dir2/file", True),
    (["**/dir2/**"], "dir/dir2/dir3/file", True),
    (["**file"], "file", True),
    (["**file"], "dir/file", True),
    (["**file"], "dirfile", True),  # suffix match: a quirk kept
    (["**/file"], "dir/dir/file", True),
    (["**/file*"], "dir/dir/file.txt", True),
    (["**/file*txt"], "dir/dir/file.txt", True),
    (["**/file*.txt*"], "dir/dir/file.txt", True),
    (["**/**/*.txt"], "dir/dir/file.txt", True),
    (["**/**/*.txt2"], "dir/dir/file.txt", False),
    (["**/*.txt"], "file.txt", True),
    (["**/**/*.txt"], "file.txt", True),
    (["a**/*.txt"], "a/file.txt", True),
    (["a**/*.txt"], "a/dir/dir/file.txt", True),
    (["a/*.txt"], "a/dir/file.txt", False),
    (["a/*.txt"], "a/file.txt", True),
    (["a/*.txt**"], "a/file.txt", True),
    (["a[b-d]e"], "ae", False),
    (["a[b-d]e"], "ace", True),
    (["a[b-d]e"], "aae", False),
    (["a[^b-d]e"], "aze", True),
    ([".*"], ".foo", True),
    ([".*"], "foo", False),
    (["abc.def"], "abcdef", False),
    (["abc.def"], "abc.def", True),
    (["abc?def"], "abcZdef", True),
    (["abc?def"], "abcdef", False),
    (["a\\\\"], "a\\", True),
    (["a\\*b"], "a*b", True),
    (["a\\*b"], "ab", False),
    (["**/foo/bar"], "foo/bar", True),
    (["**/foo/bar"], "dir/dir2/foo/bar", True),
    (["abc/**"], "abc", False),
    (["abc/**"], "abc/def/ghi", True),
    (["**/.foo"], ".foo", True),
    (["**/.foo"], "bar.foo", False),
    (["a(b)c/def"], "a(b)c/def", True),
    (["a.|)$(}+{bc"], "a.|)$(}+{bc", True),
    (["dist/*.whl"], "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl", True),
    (["**", "!util/docker/web"], "util/docker/web/foo", False),
    (["**", "!util/docker/web", "util/docker/web/foo"], "util/docker/web/foo", True),
    (["**", "!dist/*.whl"], "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl", False),
    # regexp corners: "?" and "*" never cross "/", a class may; "$" is end of text
    (["a?b"], "a\u263ab", True),
    (["a[^a]b"], "a\u263ab", True),
    (["a???b"], "a\u263ab", False),
    (["a[^x]b"], "a/b", True),
    (["a?b"], "a/b", False),
    (["a*"], "a\n", True),
    (["a"], "a\n", False),
    (["[[:digit:]]x"], "7x", True),
    (["[[:digit:]]x"], "ax", False),
    (["a\\dz"], "a5z", True),  # \d passes through to the regexp
    # so does \Q: RE2 reads the rest of the generated regexp ("[^/]*$") as literal text
    (["a\\Q*"], "a[^/]*$", True),
    (["a\\Q*"], "a*", False),
]


@pytest.mark.parametrize(("patterns", "path", "excluded"), TABLE)
def test_matches(patterns, path, excluded):
    assert PatternMatcher(patterns).matches(path) is excluded


@pytest.mark.parametrize(("patterns", "path", "excluded"), [t for t in TABLE if t[1] != "."])
def test_matches_with_parents_agrees(patterns, path, excluded):
    """The walk's incremental form gives the same answers (patternmatcher's own check)."""
    pm = PatternMatcher(patterns)
    info = MatchInfo()
    parts = path.split("/")
    for i in range(1, len(parts)):
        _, info = pm.matches_with_parents("/".join(parts[:i]), info)
    assert pm.matches_with_parents(path, info)[0] is excluded
    assert pm.matches_with_parents(path, MatchInfo())[0] is excluded


# patternmatcher's TestMatch: the deprecated single-parent Matches, errors included
SINGLE_PARENT = [
    ("abc", "abc", True), ("*", "abc", True), ("*c", "abc", True), ("a*", "a", True),
    ("a*", "abc", True), ("a*", "ab/c", True), ("a*/b", "abc/b", True), ("a*/b", "a/c/b", False),
    ("a*b*c*d*e*/f", "axbxcxdxe/f", True), ("a*b*c*d*e*/f", "axbxcxdxexxx/f", True),
    ("a*b*c*d*e*/f", "axbxcxdxe/xxx/f", False), ("a*b*c*d*e*/f", "axbxcxdxexxx/fff", False),
    ("a*b?c*x", "abxbbxdbxebxczzx", True), ("a*b?c*x", "abxbbxdbxebxczzy", False),
    ("ab[c]", "abc", True), ("ab[b-d]", "abc", True), ("ab[e-g]", "abc", False),
    ("ab[^c]", "abc", False), ("ab[^b-d]", "abc", False), ("ab[^e-g]", "abc", True),
    ("a\\*b", "a*b", True), ("a\\*b", "ab", False), ("a?b", "a\u263ab", True),
    ("a[^a]b", "a\u263ab", True), ("a???b", "a\u263ab", False), ("a[^a][^a][^a]b", "a\u263ab", False),
    ("[a-\u03b6]*", "\u03b1", True), ("*[a-\u03b6]", "A", False), ("a?b", "a/b", False),
    ("a*b", "a/b", False), ("[\\]a]", "]", True), ("[\\-]", "-", True), ("[x\\-]", "x", True),
    ("[x\\-]", "-", True), ("[x\\-]", "z", False), ("[\\-x]", "x", True), ("[\\-x]", "-", True),
    ("[\\-x]", "a", False), ("*x", "xxx", True),
]
BAD = ["[]a]", "[-]", "[x-]", "[-x]", "\\", "[a-b-c]", "[", "[^", "[^bc", "a[", "a\\"]


@pytest.mark.parametrize(("pattern", "path", "excluded"), SINGLE_PARENT)
def test_single_parent_matches(pattern, path, excluded):
    assert PatternMatcher([pattern]).matches_single_parent(path) is excluded


@pytest.mark.parametrize("pattern", BAD)
def test_bad_patterns(pattern):
    with pytest.raises(InvalidArgument, match="^syntax error in pattern$"):
        PatternMatcher([pattern])


def test_single_parent_is_not_any_parent():
    pm = PatternMatcher(["**/x"])
    assert pm.matches("x/y/Dockerfile")
    assert not pm.matches_single_parent("x/y/Dockerfile")  # why the CLI may drop a Dockerfile


def test_illegal_exclusion():
    with pytest.raises(InvalidArgument, match='^illegal exclusion pattern: "!"$'):
        PatternMatcher(["!"])
    with pytest.raises(InvalidArgument, match='^illegal exclusion pattern: "!"$'):
        PatternMatcher(read_patterns("!   \n"))


def test_regexp_errors_surface_when_matching():
    pm = PatternMatcher(["a\\p{Greek}"])  # valid for filepath.Match; RE2-only class
    with pytest.raises(InvalidArgument, match="syntax error in pattern"):
        pm.matches("a")


def test_may_include_below_is_a_plain_prefix_test():
    pm = PatternMatcher(["build", "!build/keep", "src", "!*/util"])
    assert pm.exclusions()
    assert pm.may_include_below("build")
    assert not pm.may_include_below("src")  # wildcards are not expanded: Docker prunes src


READ = [
    ("", []),
    ("# comment\n", []),
    ("a\n\n  \nb", ["a", "b"]),
    ("  spaced  \n", ["spaced"]),
    ("  # not a comment\n", ["# not a comment"]),
    ("/abs/path\n", ["abs/path"]),
    ("/\n", ["/"]),
    ("dir/\n", ["dir"]),
    ("a/./b/../c\n", ["a/c"]),
    ("!/abs\n", ["!abs"]),
    ("!  spaced\n", ["!spaced"]),
    ("!\n", ["!"]),
    ("\ufeffbom\n\ufeffsecond\n", ["bom", "\ufeffsecond"]),
    ("crlf\r\nnext\r\n", ["crlf", "next"]),
    ("no-final-newline", ["no-final-newline"]),
    ("\u00a0nbsp\u3000\n", ["nbsp"]),
    ("a//b\n", ["a/b"]),
    ("../up\n", ["../up"]),
]


@pytest.mark.parametrize(("text", "patterns"), READ)
def test_read_patterns(text, patterns):
    assert read_patterns(text) == patterns
    assert read_patterns(text.encode()) == patterns


def test_read_patterns_line_too_long():
    with pytest.raises(InvalidArgument, match="token too long"):
        read_patterns("a" * 70000)


GO_CLEAN = [
    ("", "."), ("abc", "abc"), ("abc/def", "abc/def"), ("a/b/c", "a/b/c"), (".", "."), ("..", ".."),
    ("../..", "../.."), ("../../abc", "../../abc"), ("/abc", "/abc"), ("/", "/"), ("abc/", "abc"),
    ("/abc/", "/abc"), ("abc//def//ghi", "abc/def/ghi"), ("//abc", "/abc"), ("///abc", "/abc"),
    ("abc/./def", "abc/def"), ("/./abc/def", "/abc/def"), ("abc/.", "abc"), ("abc/def/ghi/../jkl", "abc/def/jkl"),
    ("abc/def/../ghi/../jkl", "abc/jkl"), ("abc/def/..", "abc"), ("abc/def/../..", "."), ("/abc/def/../..", "/"),
    ("abc/def/../../..", ".."), ("/abc/def/../../..", "/"), ("abc/def/../../../ghi/jkl/../../../mno", "../../mno"),
    ("abc/./../def", "def"), ("abc//./../def", "def"), ("abc/../../././../def", "../../def"),
]


@pytest.mark.parametrize(("path", "cleaned"), GO_CLEAN)
def test_go_clean(path, cleaned):
    assert gopath.clean(path) == cleaned
