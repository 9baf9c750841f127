// mportal ops console: build upload (apps screen). Progressive enhancement of the upload form:
// the file goes straight to object storage through the presigned URL the release service hands
// out, with the upload's progress shown; then the server reads the build and the browser opens
// the build's page. Served from /console/static/ under the console's CSP (script-src 'self').
(function () {
  'use strict';
  var form = document.getElementById('build-upload');
  if (!form) { return; }
  var input = document.getElementById('build-file');
  var drop = document.getElementById('build-drop');
  var bar = document.getElementById('build-progress');
  var status = document.getElementById('build-status');
  var token = form.querySelector('input[name="csrf_token"]').value;

  function say(text, bad) {
    status.textContent = text;
    status.className = bad ? 'bad' : '';
  }

  // post sends a console form as a script: the anti-forgery token in the body, JSON back.
  function post(url, fields) {
    var body = new URLSearchParams(fields);
    body.set('csrf_token', token);
    return fetch(url, {
      method: 'POST', credentials: 'same-origin', body: body,
      headers: { 'Accept': 'application/json', 'Content-Type': 'application/x-www-form-urlencoded' }
    }).then(function (r) {
      // A lapsed session answers the sign-in page (HTML), not JSON: say so instead of a parse error.
      if ((r.headers.get('Content-Type') || '').indexOf('json') < 0) {
        throw new Error(r.status + ' ' + r.statusText + ': ' + form.dataset.reload);
      }
      return r.json().then(function (v) {
        if (!r.ok) { throw new Error(v.detail || v.title || r.statusText); }
        return v;
      });
    });
  }

  // put sends the file to the presigned URL, reporting progress on the bar.
  function put(ticket, file) {
    return new Promise(function (resolve, reject) {
      var xhr = new XMLHttpRequest();
      xhr.open(ticket.method || 'PUT', ticket.upload_url);
      xhr.upload.addEventListener('progress', function (e) {
        if (e.lengthComputable) {
          bar.value = Math.round(e.loaded * 100 / e.total);
          bar.textContent = bar.value + '%';
        }
      });
      xhr.addEventListener('load', function () {
        if (xhr.status >= 200 && xhr.status < 300) { resolve(); } else { reject(new Error('storage answered ' + xhr.status)); }
      });
      xhr.addEventListener('error', function () { reject(new Error('the upload to storage failed')); });
      xhr.send(file);
    });
  }

  function upload(file) {
    if (!file) { return; }
    var name = file.name.toLowerCase();
    var platform = name.endsWith('.ipa') ? 'ios' : 'android';
    bar.value = 0;
    input.disabled = true;
    say(form.dataset.uploading.replace('%s', file.name));
    post(form.dataset.start, { platform: platform, size: String(file.size), filename: file.name })
      .then(function (ticket) {
        return put(ticket, file).then(function () { return ticket; });
      })
      .then(function (ticket) {
        say(form.dataset.processing);
        return post(form.dataset.create, { upload_key: ticket.upload_key });
      })
      .then(function (build) { window.location.assign(build.location); })
      .catch(function (err) { input.disabled = false; say(err.message, true); });
  }

  input.addEventListener('change', function () { upload(input.files[0]); });
  ['dragenter', 'dragover'].forEach(function (type) {
    drop.addEventListener(type, function (e) { e.preventDefault(); drop.classList.add('over'); });
  });
  ['dragleave', 'drop'].forEach(function (type) {
    drop.addEventListener(type, function (e) { e.preventDefault(); drop.classList.remove('over'); });
  });
  drop.addEventListener('drop', function (e) {
    if (e.dataTransfer && e.dataTransfer.files.length) { upload(e.dataTransfer.files[0]); }
  });
}());
