// The verification page works without this script: the form posts and the
// server answers with the result page. The script only adds drag-and-drop
// and shows the server-rendered result without reloading the page.
(function () {
  'use strict';

  // sha256 returns the SHA-256 of bytes (an ArrayBuffer or Uint8Array) in
  // lower-case hex, following FIPS 180-4 section 6.2. The page uses it
  // where the browser offers no SubtleCrypto, which is any page not served
  // from a secure context (plain http on a LAN address): the downloads
  // below are then checked all the same. Written for this page; the
  // constants are FIPS 180-4's (4.2.2, 5.3.3).
  var K = [
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2
  ];

  function sha256(data) {
    var bytes = data instanceof Uint8Array ? data : new Uint8Array(data);
    var n = bytes.length;
    var H = [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19];
    var W = new Int32Array(64);

    // block hashes the 64 bytes of b from offset off into H.
    function block(b, off) {
      var t, x, y;
      for (t = 0; t < 16; t++) {
        var i = off + 4 * t;
        W[t] = (b[i] << 24) | (b[i + 1] << 16) | (b[i + 2] << 8) | b[i + 3];
      }
      for (t = 16; t < 64; t++) {
        x = W[t - 15];
        y = W[t - 2];
        var s0 = ((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3);
        var s1 = ((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10);
        W[t] = (s1 + W[t - 7] + s0 + W[t - 16]) | 0;
      }
      var a = H[0], bb = H[1], c = H[2], d = H[3], e = H[4], f = H[5], g = H[6], h = H[7];
      for (t = 0; t < 64; t++) {
        var S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
        var ch = (e & f) ^ (~e & g);
        var T1 = (h + S1 + ch + K[t] + W[t]) | 0;
        var S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
        var maj = (a & bb) ^ (a & c) ^ (bb & c);
        var T2 = (S0 + maj) | 0;
        h = g;
        g = f;
        f = e;
        e = (d + T1) | 0;
        d = c;
        c = bb;
        bb = a;
        a = (T1 + T2) | 0;
      }
      H[0] = (H[0] + a) | 0;
      H[1] = (H[1] + bb) | 0;
      H[2] = (H[2] + c) | 0;
      H[3] = (H[3] + d) | 0;
      H[4] = (H[4] + e) | 0;
      H[5] = (H[5] + f) | 0;
      H[6] = (H[6] + g) | 0;
      H[7] = (H[7] + h) | 0;
    }

    var full = n - (n % 64);
    for (var off = 0; off < full; off += 64) {
      block(bytes, off);
    }
    // Padding (5.1.1): the rest, a 1 bit, zeros, and the length in bits
    // as 64 bits big-endian, in one or two blocks.
    var rest = n - full;
    var tail = new Uint8Array(rest < 56 ? 64 : 128);
    tail.set(bytes.subarray(full));
    tail[rest] = 0x80;
    var hi = Math.floor(n / 0x20000000); // n * 8 / 2^32
    var lo = (n % 0x20000000) * 8;
    var end = tail.length;
    tail[end - 8] = hi >>> 24;
    tail[end - 7] = hi >>> 16;
    tail[end - 6] = hi >>> 8;
    tail[end - 5] = hi;
    tail[end - 4] = lo >>> 24;
    tail[end - 3] = lo >>> 16;
    tail[end - 2] = lo >>> 8;
    tail[end - 1] = lo;
    for (off = 0; off < end; off += 64) {
      block(tail, off);
    }
    return H.map(function (v) {
      return ('0000000' + (v >>> 0).toString(16)).slice(-8);
    }).join('');
  }
  // For the page's tests, which check it against known answers.
  window.esignSHA256 = sha256;

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

  // digest is the SHA-256 of buf in hex: the browser's own where it has
  // one, else ours. Never the expected value: what was not hashed is not
  // saved.
  function digest(buf) {
    if (window.crypto && window.crypto.subtle && window.crypto.subtle.digest) {
      return window.crypto.subtle.digest('SHA-256', buf).then(hex);
    }
    return Promise.resolve(buf).then(sha256);
  }

  // save offers bytes for download once their SHA-256 is the one the
  // verifier reported, so what is saved is what was checked.
  function save(buf, want, name, type) {
    return digest(buf).then(function (got) {
      if (!want || got !== want) {
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
