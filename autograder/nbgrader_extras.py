"""nbgrader preprocessors used by the course's ``nbgrader_config.py`` (run inside nbgrader, not kernels).

``ScrubHiddenTestTracebacks`` (feedback): nbgrader's ``ClearHiddenTests`` removes the hidden-tests
block from a test cell's source, but the error output still holds IPython's traceback, whose frame
shows the failing line and its neighbours, i.e. the hidden tests. This replaces every traceback
line that shows a hidden-test line (or a marker) by ``(hidden test)``. It must run before
``ClearHiddenTests``, while the cell still has its hidden block.
"""

import re

from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import Unicode

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


class ScrubHiddenTestTracebacks(NbGraderPreprocessor):
    begin = Unicode("BEGIN HIDDEN TESTS").tag(config=True)
    end = Unicode("END HIDDEN TESTS").tag(config=True)

    def _hidden_lines(self, source):
        hidden, inside = [], False
        for line in source.splitlines():
            if self.begin in line:
                inside = True
                hidden.append(line.strip())
            elif self.end in line:
                inside = False
                hidden.append(line.strip())
            elif inside and line.strip():
                hidden.append(line.strip())
        return hidden

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type != "code" or self.begin not in cell.source:
            return cell, resources
        hidden = self._hidden_lines(cell.source)
        for out in cell.get("outputs", []):
            if out.get("output_type") != "error":
                continue
            scrubbed = []
            for entry in out.get("traceback", []):
                lines = []
                for line in entry.split("\n"):
                    plain = _ANSI.sub("", line)
                    if any(h and h in plain for h in hidden):
                        prefix = re.match(r"\s*(-*>)?\s*\d*", plain).group(0)
                        lines.append(f"{prefix} (hidden test)")
                    else:
                        lines.append(line)
                scrubbed.append("\n".join(lines))
            out["traceback"] = scrubbed
            if any(h and h in out.get("evalue", "") for h in hidden):
                out["evalue"] = "(a hidden test failed)"
        return cell, resources
