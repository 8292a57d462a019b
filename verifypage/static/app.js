// The verification page works without this script: the form posts and the
// server answers with the result page. The script only adds drag-and-drop
// and shows the server-rendered result without reloading the page.
(function () {
  'use strict';
  var form = document.getElementById('upload');
  var input = document.getElementById('file');
  var drop = document.getElementById('drop');
  var slot = document.getElementById('result');
  var busy = document.getElementById('busy');
  var submit = document.getElementById('submit');
  var announce = document.getElementById('announce');
  if (!form || !input || !drop || !slot || !window.fetch || !window.FormData) {
    return;
  }
  document.documentElement.classList.add('js');
  var max = Number(form.getAttribute('data-max')) || 0;
  var sending = false;
  // checked is the file the shown result is about: the downloads of the
  // signed version and of attachments are cut from it here, in the
  // browser, so the verifier keeps nothing and any replica can answer.
  var checked = null;

  function showError(message) {
    // textContent: the message is ours, but never treat text as markup.
    slot.textContent = '';
    var box = document.createElement('section');
    box.className = 'verdict tone-error';
    box.id = 'verdict';
    box.setAttribute('role', 'status');
    var h = document.createElement('h2');
    h.id = 'verdict-title';
    h.tabIndex = -1;
    h.textContent = message;
    box.appendChild(h);
    slot.appendChild(box);
    done(h);
  }

  // done ends an upload. Focus moves to the verdict's heading, so screen
  // readers read it (once: the busy message is cleared from the live
  // region) and keyboard users continue from the result.
  function done(heading) {
    sending = false;
    busy.hidden = true;
    submit.disabled = false;
    if (announce) {
      announce.textContent = '';
    }
    if (heading) {
      heading.focus();
      heading.scrollIntoView({ block: 'start' });
    }
  }

  function send() {
    if (sending || !input.files || input.files.length === 0) {
      return;
    }
    var file = input.files[0];
    if (max > 0 && file.size > max) {
      showError(form.getAttribute('data-too-large'));
      return;
    }
    sending = true;
    busy.hidden = false;
    submit.disabled = true;
    if (announce) {
      announce.textContent = busy.textContent;
    }
    checked = file;
    var url = new URL(form.action, document.baseURI);
    url.searchParams.set('partial', '1');
    fetch(url.toString(), { method: 'POST', body: new FormData(form), credentials: 'same-origin' })
      .then(function (resp) { return resp.text(); })
      .then(function (html) {
        // The fragment is rendered by our server with every string from
        // the file escaped; scripts inserted this way never run, and the
        // Content-Security-Policy forbids inline ones anyway.
        slot.innerHTML = html;
        var heading = document.getElementById('verdict-title');
        done(heading);
      })
      .catch(function () {
        showError(form.getAttribute('data-network-error'));
      });
  }

  function hex(buf) {
    return Array.prototype.map.call(new Uint8Array(buf), function (b) {
      return ('0' + b.toString(16)).slice(-2);
    }).join('');
  }

  // save offers bytes for download once their SHA-256 is the one the
  // verifier reported, so what is saved is what was checked.
  function save(buf, want, name, type) {
    var check = window.crypto && window.crypto.subtle ?
      window.crypto.subtle.digest('SHA-256', buf).then(hex) : Promise.resolve(want);
    return check.then(function (got) {
      if (got !== want) {
        throw new Error('mismatch');
      }
      var link = document.createElement('a');
      link.href = URL.createObjectURL(new Blob([buf], { type: type || 'application/octet-stream' }));
      link.download = name;
      link.hidden = true;
      document.body.appendChild(link);
      link.click();
      setTimeout(function () { URL.revokeObjectURL(link.href); link.remove(); }, 60000);
    });
  }

  function saveFailed() {
    var box = document.getElementById('save-error');
    if (box) {
      box.textContent = box.getAttribute('data-mismatch');
      box.hidden = false;
    }
  }

  slot.addEventListener('click', function (e) {
    var btn = e.target.closest ? e.target.closest('button.save') : null;
    if (!btn || !checked) {
      return;
    }
    var length = Number(btn.getAttribute('data-length'));
    var want = btn.getAttribute('data-sha256');
    var name = btn.getAttribute('data-name');
    var work;
    if (btn.classList.contains('save-revision')) {
      work = checked.slice(0, length).arrayBuffer().then(function (buf) {
        return save(buf, want, name, 'application/pdf');
      });
    } else {
      var offset = Number(btn.getAttribute('data-offset'));
      var part = checked.slice(offset, offset + length);
      var data = btn.getAttribute('data-flate') === '1' ?
        (window.DecompressionStream ?
          new Response(part.stream().pipeThrough(new DecompressionStream('deflate'))).arrayBuffer() :
          Promise.reject(new Error('no DecompressionStream'))) :
        part.arrayBuffer();
      work = data.then(function (buf) {
        return save(buf, want, name, btn.getAttribute('data-mime'));
      });
    }
    work.catch(saveFailed);
  });

  form.addEventListener('submit', function (e) {
    e.preventDefault();
    send();
  });
  input.addEventListener('change', send);

  ['dragenter', 'dragover'].forEach(function (name) {
    drop.addEventListener(name, function (e) {
      e.preventDefault();
      drop.classList.add('over');
    });
  });
  ['dragleave', 'dragend', 'drop'].forEach(function (name) {
    drop.addEventListener(name, function () {
      drop.classList.remove('over');
    });
  });
  drop.addEventListener('drop', function (e) {
    e.preventDefault();
    if (e.dataTransfer && e.dataTransfer.files && e.dataTransfer.files.length > 0) {
      input.files = e.dataTransfer.files;
      send();
    }
  });
})();
