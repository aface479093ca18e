// Sorting and filtering for the report's tables. The page reads fully
// without this script; it only adds controls. No data comes from here.
(function () {
  'use strict';
  var SEVERITIES = ['info', 'low', 'medium', 'high', 'critical'];

  function key(cell) {
    var text = cell.hasAttribute('data-sort') ? cell.getAttribute('data-sort') : cell.textContent;
    var number = text.trim() === '' ? NaN : Number(text);
    return isNaN(number) ? { text: text.toLowerCase() } : { number: number };
  }

  function compare(a, b) {
    if (a.number !== undefined && b.number !== undefined) return a.number - b.number;
    if (a.number !== undefined) return -1;
    if (b.number !== undefined) return 1;
    return a.text < b.text ? -1 : a.text > b.text ? 1 : 0;
  }

  function enhance(box) {
    var table = box.querySelector('table');
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    var controls = document.createElement('div');
    controls.className = 'controls';
    var filter = document.createElement('input');
    filter.type = 'search';
    filter.placeholder = 'Filter rows';
    filter.setAttribute('aria-label', 'Filter rows by text');
    var level = document.createElement('select');
    level.setAttribute('aria-label', 'Lowest severity shown');
    SEVERITIES.forEach(function (name, rank) {
      var option = document.createElement('option');
      option.value = String(rank);
      option.textContent = rank === 0 ? 'all severities' : name + ' and worse';
      level.appendChild(option);
    });
    var shown = document.createElement('span');
    shown.className = 'shown';
    shown.setAttribute('aria-live', 'polite');
    controls.appendChild(filter);
    controls.appendChild(level);
    controls.appendChild(shown);
    box.insertBefore(controls, box.querySelector('.scroll'));

    function apply() {
      var words = filter.value.toLowerCase().split(/\s+/).filter(Boolean);
      var min = Number(level.value);
      var count = 0;
      rows.forEach(function (row) {
        var text = row.textContent.toLowerCase();
        var keep = Number(row.getAttribute('data-sev')) >= min &&
          words.every(function (word) { return text.indexOf(word) >= 0; });
        row.hidden = !keep;
        if (keep) count += 1;
      });
      shown.textContent = count + ' of ' + rows.length + ' rows';
      shown.setAttribute('data-shown', String(count));
    }
    filter.addEventListener('input', apply);
    level.addEventListener('change', apply);
    apply();

    var headers = table.tHead.rows[0].cells;
    Array.prototype.forEach.call(headers, function (th, column) {
      var button = document.createElement('button');
      button.type = 'button';
      button.textContent = th.textContent;
      button.title = 'Sort by ' + th.textContent;
      th.textContent = '';
      th.appendChild(button);
      button.addEventListener('click', function () {
        var descending = th.getAttribute('aria-sort') === 'ascending';
        Array.prototype.forEach.call(headers, function (other) { other.removeAttribute('aria-sort'); });
        th.setAttribute('aria-sort', descending ? 'descending' : 'ascending');
        var keyed = rows.map(function (row, index) {
          return { row: row, key: key(row.cells[column]), index: index };
        });
        keyed.sort(function (a, b) {
          var order = compare(a.key, b.key);
          return (descending ? -order : order) || a.index - b.index;
        });
        var fragment = document.createDocumentFragment();
        keyed.forEach(function (item) { fragment.appendChild(item.row); });
        body.appendChild(fragment);
      });
    });
  }

  Array.prototype.forEach.call(document.querySelectorAll('[data-table]'), enhance);
}());
