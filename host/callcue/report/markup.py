"""The HTML both report pages share: the stylesheet, the script that sorts a table by
the heading clicked, and the table cells (each number with its sort value)."""

import html

from callcue.report.words import shown

CSS = """body{font-family:sans-serif;margin:1.5em;color:#222;font-size:14px}
h1{font-size:22px;margin:.2em 0}h2{font-size:18px;margin:1.2em 0 .4em}h3{font-size:15px}
table{border-collapse:collapse;font-size:13px;width:100%}
td,th{border:1px solid #ccc;padding:3px 6px;text-align:right;vertical-align:top}
th{background:#eee;font-weight:600;cursor:pointer;user-select:none}
th.l,td.l{text-align:left}tfoot td{background:#f4f4f4}tfoot tr.band td{color:#444}
th[aria-sort=ascending]::after{content:" \\25B2"}th[aria-sort=descending]::after{content:" \\25BC"}
td.hi,td.lo{background:#ffd9a8;font-weight:bold}
img{width:100%;display:block;margin:.3em 0 1.5em}
.lede{font-size:15px;margin:.2em 0 .6em}.note{color:#555;font-size:12px}
.sentence{font-size:15px;margin:.3em 0}.quality{font-size:13px;margin:.3em 0}
td.mark{text-align:left}.verified{color:#1a7f37}.not-signed{color:#666}
.not-verified{color:#fff;background:#c62828;font-weight:bold}
.flag{background:#fff3cd;padding:0 .3em}"""

# Sortable tables: a click on a heading sorts the body by that column (numbers by the
# cell's data-v; empty cells last either way); the foot (team, band) stays put.
JS = """<script>
document.querySelectorAll('table.sortable').forEach(function (t) {
  var ths = t.tHead.rows[0].cells;
  [].forEach.call(ths, function (th, i) {
    th.title = 'sort by this column';
    th.addEventListener('click', function () {
      var asc = th.getAttribute('aria-sort') !== 'ascending';
      [].forEach.call(ths, function (h) { h.removeAttribute('aria-sort'); });
      th.setAttribute('aria-sort', asc ? 'ascending' : 'descending');
      var body = t.tBodies[0], rows = [].slice.call(body.rows);
      function key(r) {
        var c = r.cells[i], v = c.getAttribute('data-v');
        return v === null ? c.textContent.trim().toLowerCase() : v === '' ? '' : +v;
      }
      rows.sort(function (a, b) {
        var x = key(a), y = key(b);
        if (x === '' || y === '') return (x === '') - (y === '');
        var c = typeof x === 'number' ? x - y : String(x).localeCompare(String(y));
        return asc ? c : -c;
      });
      rows.forEach(function (r) { body.appendChild(r); });
    });
  });
});
</script>"""


def td(text, v=None, cls=None, title=None):
    """A cell: shown `text`, sort value `v` (None: sorts by text; '' for missing)."""
    a = "" if v is None else ' data-v="%s"' % ("" if v == "" else "%.6g" % v)
    if cls:
        a += ' class="%s"' % cls
    if title:
        a += ' title="%s"' % html.escape(title)
    return "<td%s>%s</td>" % (a, html.escape(text))


def num(v, fmt):
    return td(shown(fmt, v), "" if v is None else v)


def thead(cols):
    return "<thead><tr>%s</tr></thead>" % "".join(
        '<th class="%s">%s</th>' % (cls, html.escape(h)) for h, cls in cols)
