"""Java regular expressions from botocore's models, translated to Python with Java's
meaning (simsage.transport.java_regex)."""

from __future__ import annotations

import botocore.session
import pytest

from simsage.transport.java_regex import UntranslatablePattern, compile_java, to_python


@pytest.mark.parametrize(
    ("pattern", "matching", "not_matching"),
    [
        ("\\p{ASCII}*", ["", "abc\x7f", "a b\t"], ["é", "日本"]),
        ("\\A\\S[\\p{Print}]*\\z", ["id-1", "a b~"], [" a", "a\n", "id-é", ""]),
        ("[\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*", ["équipe 数据 ٣", "a_b.c:d/e=f+g-h@i"], ["a;b", "😀"]),
        ("[\\w-_]*", ["a-_b"], ["é", "a b"]),  # \w is ASCII in Java; '-' after \w is literal
        ("([\\p{L}]*)${1,128}", ["abc"], ["ab1"]),  # a quantified anchor
        ("[\\u0020-\\uD7FF\\uE000-\\uFFFD\\uD800\\uDC00-\\uDBFF\\uDFFF\\t]*", ["a😀\t"], ["\x01"]),
        ("arn:[\\p{Alnum}\\-]+:x", ["arn:aws-cn:x"], ["arn:é:x"]),
        ("a.c", ["abc"], ["a\rc", "a\nc", "a\u2028c"]),  # Java's '.' skips every line end
        ("a*+b", ["aab"], ["aac"]),  # possessive
        ("(?<word>[a-z]+)\\d", ["ab1"], ["1"]),
        ("\\Qa.b\\E", ["a.b"], ["axb"]),
        ("[\\p{Punct}]+", ["!@#"], ["a"]),
    ],
)
def test_translated_patterns_keep_javas_meaning(pattern, matching, not_matching):
    regex = compile_java(pattern)
    assert regex is not None, to_python(pattern)
    for text in matching:
        assert regex.fullmatch(text), (pattern, text)
    for text in not_matching:
        assert not regex.fullmatch(text), (pattern, text)


@pytest.mark.parametrize("pattern", ["[a-z&&[^b]]", "\\p{InGreek}", "[\\P{L}]"])
def test_untranslatable_constructs_are_reported(pattern):
    with pytest.raises(UntranslatablePattern):
        to_python(pattern)
    assert compile_java(pattern) is None


def test_every_pattern_of_the_emulated_services_translates():
    session = botocore.session.get_session()
    for service in ("s3", "sts", "iam", "logs", "sagemaker", "sagemaker-runtime"):
        model = session.get_service_model(service)
        for name in model.shape_names:
            pattern = model.shape_for(name).metadata.get("pattern")
            if pattern:
                assert compile_java(pattern) is not None, (service, name, pattern)
