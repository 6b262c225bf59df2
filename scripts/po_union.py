"""Merge the translation catalogues of several git revisions by msgid (for merging parallel branches).

git's line merges do not fit .po files: branches that each append terms conflict at the end of the file, and a
"union" merge folds the lines their entries share (module comments, empty msgstr), which breaks Odoo's reader.
This rewrites every ``salesjet_flows*/i18n/*.po`` and ``*.pot`` of the work tree as the union by msgid of the
same file at each revision (a later revision's translation wins), adds to each .pot the msgids its .po files have
(Odoo reads a .po through its .pot: a term missing there is obsolete), and wraps the .po files as msgmerge does.

Usage, during a merge with conflicts in the catalogues:  python scripts/po_union.py HEAD MERGE_HEAD
(needs polib, from the venv, and msgcat, from gettext); then check with tests/test_i18n.py.
"""
import glob
import os
import subprocess
import sys

import polib


def union(path, revisions):
    merged, index = None, {}
    for revision in revisions:
        try:
            text = subprocess.run(["git", "show", f"{revision}:{path}"], capture_output=True, check=True,
                                  text=True).stdout
        except subprocess.CalledProcessError:
            continue  # the file is new in another revision
        catalogue = polib.pofile(text)
        if merged is None:
            merged = polib.POFile(wrapwidth=78)
            merged.metadata, merged.header = catalogue.metadata, catalogue.header
        for entry in catalogue:
            if entry.obsolete:
                continue
            known = index.get(entry.msgid)
            if known is None:
                merged.append(entry)
                index[entry.msgid] = entry
                continue
            if entry.msgstr:
                known.msgstr = entry.msgstr
            known.occurrences += [occurrence for occurrence in entry.occurrences if occurrence not in known.occurrences]
    return merged


def main(revisions):
    os.chdir(subprocess.run(["git", "rev-parse", "--show-toplevel"], capture_output=True, check=True,
                            text=True).stdout.strip())
    paths = sorted(glob.glob("salesjet_flows*/i18n/*.po") + glob.glob("salesjet_flows*/i18n/*.pot"))
    for path in paths:
        merged = union(path, revisions)
        if merged is not None:
            merged.save(path)
    for pot_path in sorted(glob.glob("salesjet_flows*/i18n/*.pot")):
        template = polib.pofile(pot_path)
        known = {entry.msgid for entry in template}
        for po_path in sorted(glob.glob(os.path.join(os.path.dirname(pot_path), "*.po"))):
            for entry in polib.pofile(po_path):
                if not entry.obsolete and entry.msgid not in known:
                    template.append(polib.POEntry(msgid=entry.msgid, msgstr="", occurrences=entry.occurrences,
                                                  comment=entry.comment, flags=entry.flags))
                    known.add(entry.msgid)
        template.save(pot_path)
    for path in paths:
        if path.endswith(".po"):
            subprocess.run(["msgcat", "-o", path, path], check=True)


if __name__ == "__main__":
    main(sys.argv[1:] or ["HEAD"])
