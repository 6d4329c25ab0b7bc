"""`slugify` as a libOS tool (world `libos:runtime/tool`): {"text": ...} -> {"slug": ...}.

ASCII letters and digits are kept (uppercase lowercased); every run of other characters,
non-ASCII included, becomes one `-`; no `-` at either end.
"""

import json

import wit_world
from componentize_py_types import Err
from wit_world.imports.types import ToolError_InvalidInput, ToolInfo

SCHEMA = {
    "type": "object",
    "properties": {"text": {"type": "string"}},
    "required": ["text"],
    "additionalProperties": False,
}


def slugify(text: str) -> str:
    out = []
    gap = False
    for c in text:
        if "a" <= c <= "z" or "0" <= c <= "9":
            pass
        elif "A" <= c <= "Z":
            c = c.lower()
        else:
            gap = True
            continue
        if gap and out:
            out.append("-")
        gap = False
        out.append(c)
    return "".join(out)


class WitWorld(wit_world.WitWorld):
    def describe(self) -> ToolInfo:
        return ToolInfo(
            name="slugify",
            description="Turns a text into a URL slug: lowercase ASCII letters and digits joined by single dashes.",
            input_schema=json.dumps(SCHEMA),
            capabilities=[],
        )

    def invoke(self, input: str) -> str:
        try:
            text = json.loads(input)["text"]
        except (ValueError, KeyError, TypeError) as e:
            raise Err(ToolError_InvalidInput(f"expected {{\"text\": string}}: {e}"))
        if not isinstance(text, str):
            raise Err(ToolError_InvalidInput("text: expected a string"))
        return json.dumps({"slug": slugify(text)}, separators=(",", ":"))
