// Live preview of the announcement compose form (progressive enhancement: without this script
// the form's "Preview" button renders the same preview on the server). While ops type, the body
// is sent to /console/announcements/preview, which renders it with the announcement service's
// own Markdown renderer and sanitizer, and the sanitized HTML is shown below the editor.
(function () {
  'use strict';
  var form = document.querySelector('form.compose');
  var body = document.getElementById('body');
  var out = document.getElementById('live-preview');
  if (!form || !body || !out || !window.fetch) {
    return;
  }
  var token = form.querySelector('input[name="csrf_token"]').value;
  var timer = null;
  var sent = 0;
  function render() {
    var n = ++sent;
    var params = new URLSearchParams();
    params.set('csrf_token', token);
    params.set('body', body.value);
    fetch('/console/announcements/preview', {
      method: 'POST',
      credentials: 'same-origin',
      headers: {'Content-Type': 'application/x-www-form-urlencoded', 'Accept': 'text/html'},
      body: params.toString()
    }).then(function (r) {
      return r.ok ? r.text() : '';
    }).then(function (html) {
      if (n === sent) { // only the answer to the latest text
        out.innerHTML = html; // sanitized by the server (the API's policy)
        out.parentNode.hidden = html === '';
      }
    }).catch(function () {});
  }
  body.addEventListener('input', function () {
    clearTimeout(timer);
    timer = setTimeout(render, 300);
  });
  if (body.value.trim() !== '') {
    render();
  }
}());
