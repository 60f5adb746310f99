// corsproof in-page probe runner. Runs a batch of requests exactly as page
// JavaScript on this origin would, and reports only what JavaScript could see.
// Response bodies never leave the page: only their length and a short hash.
(function () {
  "use strict";
  var MAX_BODY = 1048576;

  function fnv1a(bytes) {
    var h = 0x811c9dc5;
    for (var i = 0; i < bytes.length; i++) {
      h ^= bytes[i];
      h = Math.imul(h, 0x01000193) >>> 0;
    }
    return ("00000000" + h.toString(16)).slice(-8);
  }

  function concat(chunks, total) {
    var out = new Uint8Array(total);
    var off = 0;
    for (var i = 0; i < chunks.length; i++) { out.set(chunks[i], off); off += chunks[i].length; }
    return out;
  }

  async function readBody(resp) {
    if (!resp.body || !resp.body.getReader) {
      var buf = new Uint8Array(await resp.arrayBuffer());
      var cut = buf.length > MAX_BODY;
      if (cut) buf = buf.subarray(0, MAX_BODY);
      return { bytes: buf, truncated: cut };
    }
    var reader = resp.body.getReader();
    var chunks = [], total = 0, truncated = false;
    for (;;) {
      var step = await reader.read();
      if (step.done) break;
      var room = MAX_BODY - total;
      if (step.value.length > room) {
        chunks.push(step.value.subarray(0, room)); total += room; truncated = true;
        try { reader.cancel(); } catch (e) { /* already closed */ }
        break;
      }
      chunks.push(step.value); total += step.value.length;
    }
    return { bytes: concat(chunks, total), truncated: truncated };
  }

  function headerNames(list) {
    var names = [];
    for (var i = 0; i < list.length && names.length < 64; i++) {
      var n = String(list[i]).toLowerCase().slice(0, 128);
      if (names.indexOf(n) < 0) names.push(n);
    }
    return names.sort();
  }

  function base(spec, t0) {
    return {
      id: spec.id, page_origin: self.origin, resolved: false, status: null,
      body_read: false, body_length: null, body_hash: null, body_truncated: false,
      headers: [], elapsed_ms: 0, error: null, error_name: null, timed_out: false,
      _t0: t0
    };
  }

  function finish(out) {
    out.elapsed_ms = Math.round((performance.now() - out._t0) * 10) / 10;
    delete out._t0;
    if (out.error && out.error.length > 300) out.error = out.error.slice(0, 300);
    return out;
  }

  async function viaFetch(spec) {
    var out = base(spec, performance.now());
    var ctl = new AbortController();
    var timer = setTimeout(function () { out.timed_out = true; ctl.abort(); }, spec.timeout_ms);
    try {
      var init = {
        method: spec.method, headers: spec.headers, credentials: spec.credentials,
        mode: "cors", cache: "no-store", redirect: "follow", signal: ctl.signal
      };
      if (spec.body !== null && spec.body !== undefined) init.body = spec.body;
      var resp = await fetch(spec.url, init);
      out.resolved = true;
      out.status = resp.status;
      var names = [];
      resp.headers.forEach(function (_v, k) { names.push(k); });
      out.headers = headerNames(names);
      try {
        var body = await readBody(resp);
        out.body_read = true;
        out.body_length = body.bytes.length;
        out.body_truncated = body.truncated;
        out.body_hash = fnv1a(body.bytes);
      } catch (e) {
        out.error = "body: " + (e && e.message ? e.message : String(e));
        out.error_name = e && e.name ? e.name : "Error";
      }
    } catch (e) {
      out.error = e && e.message ? e.message : String(e);
      out.error_name = e && e.name ? e.name : "Error";
    } finally {
      clearTimeout(timer);
    }
    return finish(out);
  }

  function viaXhr(spec) {
    return new Promise(function (resolve) {
      var out = base(spec, performance.now());
      var xhr = new XMLHttpRequest();
      var done = false;
      function end(err, name) {
        if (done) return;
        done = true;
        if (err && !out.error) { out.error = err; out.error_name = name || "Error"; }
        resolve(finish(out));
      }
      try {
        xhr.open(spec.method, spec.url, true);
        xhr.withCredentials = spec.credentials === "include";
        xhr.responseType = "arraybuffer";
        xhr.timeout = spec.timeout_ms;
        Object.keys(spec.headers).forEach(function (k) { xhr.setRequestHeader(k, spec.headers[k]); });
      } catch (e) {
        end(e && e.message ? e.message : String(e), e && e.name);
        return;
      }
      xhr.onreadystatechange = function () {
        // Headers are only exposed once the CORS check has passed.
        if (xhr.readyState >= 2 && xhr.status !== 0 && !out.resolved) {
          out.resolved = true;
          out.status = xhr.status;
          var raw = xhr.getAllResponseHeaders() || "";
          out.headers = headerNames(raw.split(/\r?\n/).filter(Boolean).map(function (l) {
            return l.split(":")[0].trim();
          }));
        }
      };
      xhr.onprogress = function (e) {
        if (e.loaded > MAX_BODY) {
          out.body_read = true; out.body_truncated = true; out.body_length = MAX_BODY;
          out.body_hash = null;
          xhr.abort();
          end(null);
        }
      };
      xhr.onload = function () {
        var bytes = new Uint8Array(xhr.response || new ArrayBuffer(0));
        out.body_read = true;
        out.body_length = bytes.length;
        out.body_hash = fnv1a(bytes);
        end(null);
      };
      xhr.onerror = function () { end("XMLHttpRequest network error", "NetworkError"); };
      xhr.ontimeout = function () { out.timed_out = true; end("XMLHttpRequest timeout", "TimeoutError"); };
      xhr.onabort = function () { end("XMLHttpRequest aborted", "AbortError"); };
      try {
        xhr.send(spec.body === null || spec.body === undefined ? null : spec.body);
      } catch (e) {
        end(e && e.message ? e.message : String(e), e && e.name);
      }
    });
  }

  function runOne(spec) {
    return spec.api === "xhr" ? viaXhr(spec) : viaFetch(spec);
  }

  function sleep(ms) {
    return new Promise(function (resolve) { setTimeout(resolve, ms); });
  }

  // pace (optional) spreads request starts for --rate: the runner has booked
  // window_ms of slots, interval_ms apart, from booked_ms (on this page's clock,
  // Date.now()). The page waits for the booking, or loses the part already past.
  // A probe takes spec.slots of them (a preflighted one: OPTIONS + actual); one
  // whose slots no longer fit (its worker was busy too
  // long, or the batch came late) is not started but returned as not_started,
  // for the runner to book again. Its timeout only starts counting once it starts.
  async function run(batch, limit, pace) {
    var results = new Array(batch.length);
    var next = 0;
    var gap = pace && pace.interval_ms > 0 ? pace.interval_ms : 0;
    var slotAt = performance.now();
    if (gap && pace.booked_ms) slotAt += pace.booked_ms - Date.now();
    var end = slotAt + (gap ? pace.window_ms : 0);
    var started = 0;
    function claim(spec) {
      var now = performance.now();
      var at = Math.max(now, slotAt);
      var n = Math.max(1, spec.slots || 1);
      // Nothing starts outside the booking (0.5 ms for rounding), unless the runner
      // forces the first probe because the batches keep arriving too late.
      if ((started > 0 || !pace.force) && at + n * gap > end + 0.5) return -1;
      started++;
      slotAt = at + n * gap;
      // A probe with several slots starts half an interval in: its requests follow
      // each other by a round trip, not by an interval, and so stay clear of both
      // neighbours' requests.
      return at + (n > 1 ? gap / 2 : 0) - now;
    }
    async function worker() {
      while (next < batch.length) {
        var i = next++;
        if (gap) {
          var wait = claim(batch[i]);
          if (wait < 0) { results[i] = { id: batch[i].id, not_started: true }; continue; }
          if (wait > 0) await sleep(wait);
        }
        try { results[i] = await runOne(batch[i]); }
        catch (e) { results[i] = finish(Object.assign(base(batch[i], performance.now()), { error: String(e) })); }
      }
    }
    var workers = [];
    for (var w = 0; w < Math.max(1, Math.min(limit || 6, batch.length)); w++) workers.push(worker());
    await Promise.all(workers);
    return results;
  }

  // Opaque-origin probes run inside an iframe and report back by postMessage.
  var frames = {};  // kind -> a loaded frame kept by openFrame (paced runs)

  function makeFrame(kind, timeoutMs) {
    return new Promise(function (resolve) {
      var frame = document.createElement("iframe");
      var token = Math.random().toString(36).slice(2);
      var src = document.getElementById("corsproof-probe").textContent;
      var doc = "<!doctype html><meta charset=utf-8><script>" + src + "<\/script>";
      var timer = setTimeout(function () {
        cleanup(); frame.remove(); resolve({ error: "frame did not answer" });
      }, timeoutMs);
      function cleanup() { clearTimeout(timer); window.removeEventListener("message", onMsg); }
      function onMsg(ev) {
        if (ev.source !== frame.contentWindow || !ev.data || ev.data.token !== token) return;
        if (ev.data.type === "ready") { cleanup(); resolve({ frame: frame, token: token }); }
      }
      window.addEventListener("message", onMsg);
      var withToken = doc.replace("<script>", "<script>window.__corsproofToken=" + JSON.stringify(token) +
        ";window.__corsproofUA=" + JSON.stringify(navigator.userAgent) + ";");
      if (kind === "sandbox-srcdoc") {
        frame.setAttribute("sandbox", "allow-scripts");
        frame.srcdoc = withToken;
      } else {
        frame.src = "data:text/html;charset=utf-8," + encodeURIComponent(withToken);
      }
      document.body.appendChild(frame);
    });
  }

  function askFrame(f, batch, limit, timeoutMs, pace) {
    return new Promise(function (resolve) {
      var seq = Math.random().toString(36).slice(2);
      var timer = setTimeout(function () { cleanup(); resolve({ error: "frame did not answer" }); }, timeoutMs);
      function cleanup() { clearTimeout(timer); window.removeEventListener("message", onMsg); }
      function onMsg(ev) {
        if (ev.source !== f.frame.contentWindow || !ev.data || ev.data.token !== f.token) return;
        if (ev.data.type === "results" && ev.data.seq === seq) {
          cleanup();
          resolve({ results: ev.data.results });
        }
      }
      window.addEventListener("message", onMsg);
      f.frame.contentWindow.postMessage(
        { type: "batch", token: f.token, seq: seq, batch: batch, limit: limit, pace: pace }, "*");
    });
  }

  // Under --rate the runner loads the frame before it books slots, so that the
  // load does not eat the booking; the frame then serves every batch of the page.
  function openFrame(kind, timeoutMs) {
    if (frames[kind]) return Promise.resolve({ ready: true });
    return makeFrame(kind, timeoutMs).then(function (f) {
      if (f.error) return f;
      frames[kind] = f;
      return { ready: true };
    });
  }

  // Without openFrame, each call gets a fresh frame, removed afterwards.
  async function runInFrame(kind, batch, limit, timeoutMs, pace) {
    var asked = performance.now();
    var kept = frames[kind];
    var f = kept || await makeFrame(kind, timeoutMs);
    if (f.error) return f;
    var left = Math.max(1, timeoutMs - (performance.now() - asked));
    var reply = await askFrame(f, batch, limit, left, pace);
    if (!kept || reply.error) {
      f.frame.remove();
      if (kept) delete frames[kind];
    }
    return reply;
  }

  self.__corsproof = { run: run, openFrame: openFrame, runInFrame: runInFrame };

  if (self.__corsproofToken && window.parent !== window) {
    var tok = self.__corsproofToken;
    window.addEventListener("message", function (ev) {
      if (!ev.data || ev.data.token !== tok || ev.data.type !== "batch") return;
      run(ev.data.batch, ev.data.limit, ev.data.pace).then(function (results) {
        window.parent.postMessage({ type: "results", token: tok, seq: ev.data.seq, results: results }, "*");
      });
    });
    // Chromium runs a sandboxed frame in its own process, and its first requests
    // can leave before the driver has given that process the page's user agent
    // (measured: lab requests without the corsproof tag). The tag is how the lab
    // tells engines and cookie profiles apart, so the frame reports ready only once
    // it has the page's user agent.
    var want = self.__corsproofUA;
    var waited = 0;
    (function ready() {
      if (want && navigator.userAgent !== want && waited < 5000) {
        waited += 20;
        setTimeout(ready, 20);
        return;
      }
      window.parent.postMessage({ type: "ready", token: tok, ua_ok: !want || navigator.userAgent === want }, "*");
    })();
  }
})();
