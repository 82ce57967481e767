"""Parsing XML safely: every XML document nlp_coder reads goes through here.

defusedxml parses it with no DTD allowed, so no entity is ever expanded (no "billion laughs")
and no external file or URL is ever fetched; the document's size is bounded by
:data:`~nlp_coder.readers.limits.MAX_XML_BYTES`.
"""

from __future__ import annotations

from xml.etree.ElementTree import Element

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import ParseError, fromstring

from nlp_coder.errors import InputError
from nlp_coder.readers import limits
from nlp_coder.readers.limits import exceeded, size_text


def parse_xml(data: bytes, where: str, *, code: str, fix: str) -> Element:
    """Parse XML with defusedxml, refusing DTDs and entities; errors name the file and line.

    Args:
        data: the XML document.
        where: the file (and member) it comes from, for messages.
        code: the error code of XML that is not well-formed.
        fix: what to do about XML that is not well-formed or declares a DTD.

    Raises:
        InputError: the XML is larger than :data:`~nlp_coder.readers.limits.MAX_XML_BYTES` or
            declares a DTD or entities (``E105``), or is not well-formed (``code``).
    """
    if len(data) > limits.MAX_XML_BYTES:
        raise exceeded(f"the XML is larger than {size_text(limits.MAX_XML_BYTES)}", where, "MAX_XML_BYTES",
                       "Split it")
    try:
        return fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException:
        raise InputError("the XML declares a DTD or entities, which are refused for safety", where, fix,
                         code=limits.LIMIT_CODE) from None
    except ParseError as exc:
        raise InputError(f"not well-formed XML ({exc})", where, fix, code=code) from None
    except (LookupError, ValueError) as exc:  # an encoding expat does not know ("UTB-8", "utf-16" multi-byte)
        raise InputError(f"not readable XML ({exc})", where, fix, code=code) from None
