"""Small hand-built REFI-QDA projects shaped like different tools' exports (test helper)."""

from __future__ import annotations

import zipfile
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

TRANSCRIPT_1 = (
    "Interviewer: How did the assessment go?\n"
    "Mother: She helped me fill in the forms for housing. She was warm and kind to my kids.\n"
    "Interviewer: Mm-hmm.\n"
    "Mother: Yeah. She really listened to what I said and she was kind.\n"
    "Mother: The bus was late again so I walked.\n"
)
TRANSCRIPT_2 = (
    "Interviewer: And the second visit?\n"
    "Father: He drove me to the hospital appointment. The waiting room was warm and stuffy.\n"
    "Father: He listened carefully and took notes.\n"
)
SUPPORT_DESCRIPTION = (
    "The professional gave practical or emotional support.\n\n"
    "Examples:\n- She helped me fill in the housing forms.\n- He drove me to the hospital appointment.\n"
    "- They arranged childcare so I could rest."
)
GUIDS = {
    "alice": "AD68FBE7-E1EE-4A82-A279-23CC698C89EB",
    "bob": "b1a6d0c2-5e55-4f0e-9d8a-0d1b3c1e2f01",
    "support": "D7AA29DA-519B-4946-9B90-253B6DB8FD0A",
    "care": "5215CC69-B628-4E02-AFB9-9BEEAEE55808",
    "warmth": "0DCEF2F5-E55C-49DA-8C33-9B0803C7AEB4",
    "listening": "7C108712-B650-4892-AC0B-FC9A10190C3B",
    "doc1": "01106019-2518-43DD-BBD1-8F0252BACB30",
    "doc2": "C8A57C71-D156-4A94-8407-2BD2FA57E2A4",
    "site": "9F43FE32-C2CB-4BA8-B766-A0734C826E49",
    "case": "12365523-1035-4AFA-9E7B-281FE0BC51C5",
}
# (document, phrase, code, coder): what the human coders coded, by the text they selected.
CODINGS = (
    ("doc1", "She helped me fill in the forms for housing.", "support", "alice"),
    ("doc1", "She helped me fill in the forms for housing.", "support", "bob"),
    ("doc1", "She was warm and kind to my kids.", "warmth", "alice"),
    ("doc1", "She was warm and kind to my kids.", "listening", "bob"),
    ("doc1", "She really listened to what I said", "listening", "alice"),
    ("doc2", "He drove me to the hospital appointment.", "support", "alice"),
    ("doc2", "He listened carefully and took notes.", "listening", "bob"),
)


def g(key: str, braces: bool) -> str:
    return "{" + GUIDS[key] + "}" if braces else GUIDS[key]


def make_qdpx(path: Path, *, folder: str = "sources", inline: bool = False, crlf: bool = False,
              braces: bool = False, codings: tuple[tuple[str, str, str, str], ...] = CODINGS,
              extra_members: dict[str, bytes] | None = None, qde_override: bytes | None = None) -> Path:
    """Write a .qdpx: two interviews, codes Support and Care > Warmth, Listening, users alice and bob."""
    newline = "\r\n" if crlf else "\n"
    texts = {"doc1": TRANSCRIPT_1.replace("\n", newline), "doc2": TRANSCRIPT_2.replace("\n", newline)}
    names = {"doc1": "interview-01", "doc2": "interview-02"}
    selections: dict[str, list[str]] = {"doc1": [], "doc2": []}
    for n, (doc, phrase, code, coder) in enumerate(codings):
        start = texts[doc].index(phrase)
        selections[doc].append(
            f'<PlainTextSelection guid="{_guid(n, 1)}" name={quoteattr(phrase)} startPosition="{start}" '
            f'endPosition="{start + len(phrase)}" creatingUser="{g(coder, braces)}" '
            f'creationDateTime="2024-03-27T19:29:27Z">'
            f'<Coding guid="{_guid(n, 2)}" creatingUser="{g(coder, braces)}" creationDateTime="2024-03-27T19:29:27Z">'
            f'<CodeRef targetGUID="{g(code, braces)}"/></Coding></PlainTextSelection>'
        )
    members: dict[str, bytes] = {}
    sources = []
    for doc in ("doc1", "doc2"):
        if inline:
            body = f"<PlainTextContent>{escape(texts[doc])}</PlainTextContent>"
            where = ""
        else:
            members[f"{folder}/{GUIDS[doc]}.txt"] = texts[doc].encode("utf-8")
            body, where = "", f' plainTextPath="internal://{GUIDS[doc]}.txt"'
        value = ('<VariableValue><VariableRef targetGUID="{}"/><TextValue>{}</TextValue></VariableValue>'
                 .format(g("site", braces), "north" if doc == "doc1" else "south"))
        sources.append(f'<TextSource guid="{g(doc, braces)}" name="{names[doc]}"{where}>{body}'
                       f'{"".join(selections[doc])}{value}</TextSource>')
    qde = (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<Project xmlns="urn:QDA-XML:project:1.0" name="Family study" origin="Hand-built" '
        f'creatingUserGUID="{g("alice", braces)}" creationDateTime="2024-03-27T18:01:07Z">'
        f'<Users><User guid="{g("alice", braces)}" name="alice"/><User guid="{g("bob", braces)}" name="bob"/></Users>'
        "<CodeBook><Codes>"
        f'<Code guid="{g("support", braces)}" name="Support" isCodable="true" color="#33cc33">'
        f"<Description>{escape(SUPPORT_DESCRIPTION)}</Description></Code>"
        f'<Code guid="{g("care", braces)}" name="Care" isCodable="false">'
        f'<Code guid="{g("warmth", braces)}" name="Warmth" isCodable="true">'
        "<Description>The professional was warm and kind.</Description></Code>"
        f'<Code guid="{g("listening", braces)}" name="Listening" isCodable="true"/>'
        "</Code></Codes></CodeBook>"
        f'<Variables><Variable guid="{g("site", braces)}" name="site" typeOfVariable="Text"/></Variables>'
        f'<Cases><Case guid="{g("case", braces)}" name="Family A"><SourceRef targetGUID="{g("doc1", braces)}"/>'
        "</Case></Cases>"
        f'<Sources>{"".join(sources)}</Sources>'
        "</Project>"
    )
    members["project.qde"] = qde_override if qde_override is not None else qde.encode("utf-8")
    members.update(extra_members or {})
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def _guid(n: int, kind: int) -> str:
    return f"{kind:08X}-0000-4000-8000-{n:012X}"
