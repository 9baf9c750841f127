// "Insert image" of the announcement compose and edit forms. The chosen (or dropped) image is
// uploaded to /console/announcements/images, the same upload service as the cover image, and
// ![name](mportal-image:<key>) is inserted at the cursor; the live preview then shows it.
(function () {
  'use strict';
  var form = document.querySelector('form.compose');
  var body = document.getElementById('body');
  var input = document.getElementById('body-image');
  var problem = document.getElementById('body-image-problem');
  if (!form || !body || !input || !window.fetch || !window.FormData) {
    return;
  }
  var token = form.querySelector('input[name="csrf_token"]').value;
  function insert(text) {
    var start = body.selectionStart, end = body.selectionEnd;
    var before = body.value.slice(0, start), after = body.value.slice(end);
    var pad = before === '' || /\n\n$/.test(before) ? '' : (/\n$/.test(before) ? '\n' : '\n\n');
    body.value = before + pad + text + '\n' + after;
    var at = before.length + pad.length + text.length + 1;
    body.setSelectionRange(at, at);
    body.dispatchEvent(new Event('input', {bubbles: true}));
  }
  function fail(detail) {
    problem.textContent = input.getAttribute('data-failed') + ' ' + detail;
    problem.hidden = false;
  }
  function upload(file) {
    problem.hidden = true;
    var data = new FormData();
    data.append('csrf_token', token);
    data.append('image', file, file.name);
    fetch('/console/announcements/images', {
      method: 'POST',
      credentials: 'same-origin',
      headers: {'Accept': 'application/json'},
      body: data
    }).then(function (r) {
      return r.json().then(function (j) { return {ok: r.ok, j: j}; });
    }).then(function (res) {
      if (!res.ok) {
        fail(res.j.detail || res.j.title || '');
        return;
      }
      var name = file.name.replace(/\.[^.]*$/, '').replace(/[\[\]()\\\n]/g, ' ').trim() || 'image';
      insert('![' + name + '](mportal-image:' + res.j.key + ')');
    }).catch(function (e) { fail(String(e)); });
  }
  input.addEventListener('change', function () {
    if (input.files.length > 0) {
      upload(input.files[0]);
      input.value = '';
    }
  });
  body.addEventListener('dragover', function (e) {
    if (e.dataTransfer && Array.prototype.indexOf.call(e.dataTransfer.types, 'Files') >= 0) {
      e.preventDefault();
    }
  });
  body.addEventListener('drop', function (e) {
    var files = e.dataTransfer ? e.dataTransfer.files : null;
    if (files && files.length > 0 && /^image\//.test(files[0].type)) {
      e.preventDefault();
      body.focus();
      upload(files[0]);
    }
  });
}());
