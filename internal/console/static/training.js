// mportal ops console: training video page. A small tus 1.0 client (POST, HEAD, PATCH in
// chunks) uploads the chosen file through the console's tus endpoint (the session cookie, the
// anti-forgery token in X-CSRF-Token). The upload's URL is kept in localStorage per video and
// file, so after a network failure or a page reload (choose the same file again) it asks the
// server for its offset (HEAD) and continues from there, not from 0. The page also reloads
// itself every few seconds while the video is being processed. An answer 401 or 403 (the
// session ended, the page's token expired) keeps the URL: after signing in again, choosing the
// same file resumes the upload. No inline script (CSP).
(function () {
  'use strict';
  var busy = false; // an upload is running: the processing refresh waits for it
  var state = document.getElementById('tr-state');
  if (state && state.dataset.refresh) {
    setInterval(function () { if (!busy) { location.reload(); } }, Number(state.dataset.refresh) * 1000);
  }
  var form = document.getElementById('tr-upload');
  if (!form) { return; }
  var input = document.getElementById('tr-file');
  var bar = document.getElementById('tr-progress');
  var status = document.getElementById('tr-upload-status');
  var token = form.querySelector('input[name="csrf_token"]').value;
  var chunk = Number(form.dataset.chunk) || 1 << 20;
  var types = ['video/mp4', 'video/webm', 'video/avi'];

  function say(text, bad) { status.textContent = text; status.className = bad ? 'bad' : ''; }
  function show(done, total) {
    bar.value = total ? Math.floor(done * 100 / total) : 0;
    bar.textContent = bar.value + '%';
  }
  function b64(s) { return btoa(unescape(encodeURIComponent(s))); }

  // send makes one tus request; it resolves with the XHR whatever its status, and rejects on a
  // network failure.
  function send(method, url, headers, body, onProgress) {
    return new Promise(function (resolve, reject) {
      var xhr = new XMLHttpRequest();
      xhr.open(method, url);
      xhr.setRequestHeader('Tus-Resumable', '1.0.0');
      xhr.setRequestHeader('X-CSRF-Token', token);
      Object.keys(headers).forEach(function (k) { xhr.setRequestHeader(k, headers[k]); });
      if (onProgress) { xhr.upload.addEventListener('progress', onProgress); }
      xhr.addEventListener('load', function () { resolve(xhr); });
      xhr.addEventListener('error', function () { reject(new Error('network')); });
      xhr.addEventListener('abort', function () { reject(new Error('network')); });
      xhr.send(body || null);
    });
  }
  function problem(xhr) {
    try { var p = JSON.parse(xhr.responseText); return p.detail || p.title; } catch (e) { return xhr.status + ' ' + xhr.statusText; }
  }
  function wait(ms) { return new Promise(function (r) { setTimeout(r, ms); }); }

  // signedOut tells an answer that says nothing about the upload itself: the session ended or
  // the page's token expired. The stored URL is kept for after signing in again.
  function signedOut(xhr) { return xhr.status === 401 || xhr.status === 403; }

  // offsetOf asks the server how much of the upload it has (HEAD); null when it is gone. It
  // rejects when the session has ended (signedOut), keeping the stored URL.
  function offsetOf(url) {
    return send('HEAD', url, {}).then(function (xhr) {
      if (signedOut(xhr)) { throw new Error(form.dataset.signedOut); }
      return xhr.status === 200 ? Number(xhr.getResponseHeader('Upload-Offset')) : null;
    });
  }

  function create(file) {
    var type = types.indexOf(file.type) >= 0 ? file.type : 'application/octet-stream';
    var meta = { purpose: 'training_video', video_id: form.dataset.video, filetype: type, filename: file.name };
    var header = Object.keys(meta).map(function (k) { return k + ' ' + b64(meta[k]); }).join(',');
    return send('POST', form.dataset.endpoint, { 'Upload-Length': String(file.size), 'Upload-Metadata': header })
      .then(function (xhr) {
        if (xhr.status !== 201) { throw new Error(problem(xhr)); }
        var loc = new URL(xhr.getResponseHeader('Location'), location.href);
        return loc.pathname;
      });
  }

  // upload sends the file from offset in chunks; a failed chunk is retried from the server's
  // offset (at most 5 times in a row).
  function upload(file, url, offset, key) {
    var failures = 0;
    function next() {
      if (offset >= file.size) { return Promise.resolve(); }
      var body = file.slice(offset, Math.min(offset + chunk, file.size));
      return send('PATCH', url, { 'Upload-Offset': String(offset), 'Content-Type': 'application/offset+octet-stream' }, body,
        function (e) { show(offset + e.loaded, file.size); })
        .then(function (xhr) {
          if (xhr.status === 204) {
            failures = 0;
            offset = Number(xhr.getResponseHeader('Upload-Offset'));
            show(offset, file.size);
            return next();
          }
          if (signedOut(xhr)) { throw new Error(form.dataset.signedOut); }
          if (xhr.status < 500 && xhr.status !== 409) {
            localStorage.removeItem(key);
            throw new Error(problem(xhr));
          }
          return retry();
        }, retry);
    }
    function retry() {
      if (++failures > 5) { throw new Error(form.dataset.retrying); }
      say(form.dataset.retrying, true);
      return wait(1000 * failures).then(function () { return offsetOf(url); }).then(function (at) {
        if (at === null) { localStorage.removeItem(key); throw new Error(form.dataset.retrying); }
        resumed(at, file.size);
        offset = at;
        return next();
      });
    }
    return next();
  }
  function resumed(at, size) {
    form.dataset.resumedFrom = String(at);
    show(at, size);
    say(form.dataset.resuming + ' ' + at + ' / ' + size + ' B');
  }

  input.addEventListener('change', function () {
    var file = input.files[0];
    if (!file) { return; }
    var key = 'mportal-tus:' + form.dataset.video + ':' + [file.name, file.size, file.lastModified].join(':');
    var saved = localStorage.getItem(key);
    input.disabled = busy = true;
    say(form.dataset.uploading + ' ' + file.name);
    var start = saved ? offsetOf(saved).then(function (at) {
      if (at === null) { localStorage.removeItem(key); return null; }
      resumed(at, file.size);
      return { url: saved, offset: at };
    }, function (err) {
      if (err.message === form.dataset.signedOut) { throw err; }
      return null;
    }) : Promise.resolve(null);
    start.then(function (s) {
      return s || create(file).then(function (url) {
        localStorage.setItem(key, url);
        return { url: url, offset: 0 };
      });
    }).then(function (s) {
      form.dataset.uploadUrl = s.url;
      return upload(file, s.url, s.offset, key);
    }).then(function () {
      localStorage.removeItem(key);
      say(form.dataset.done);
      form.dataset.finished = 'true';
      setTimeout(function () { location.reload(); }, 1000);
    }).catch(function (err) {
      input.disabled = busy = false;
      say(err.message, true);
    });
  });
})();
