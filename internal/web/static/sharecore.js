// capy's one-time shares in the browser: the formats of internal/share
// (request code and fingerprint, sealed blob, labels) with WebCrypto,
// and the little DOM helpers both share pages use. No value is ever put
// into the page as markup: only textContent.
"use strict";

const capyShare = (() => {
  const enc = new TextEncoder();
  const utf8 = new TextDecoder("utf-8", { fatal: true });
  const B32 = "abcdefghijklmnopqrstuvwxyz234567";
  const ID_LEN = 10;
  const FP_LEN = 20; // 100 bits: docs/decisions.md #72
  const MAGIC = enc.encode("capyshare\x01");
  const MAX_ENTRIES = 100;

  function concat(...parts) {
    const n = parts.reduce((a, p) => a + p.length, 0);
    const out = new Uint8Array(n);
    let o = 0;
    for (const p of parts) { out.set(p, o); o += p.length; }
    return out;
  }

  function u16(n) { return new Uint8Array([(n >> 8) & 0xff, n & 0xff]); }

  function base32(bytes) {
    let out = "", bits = 0, v = 0;
    for (const b of bytes) {
      v = ((v << 8) | b) & 0xffff;
      bits += 8;
      while (bits >= 5) { out += B32[(v >> (bits - 5)) & 31]; bits -= 5; }
    }
    if (bits > 0) out += B32[(v << (5 - bits)) & 31];
    return out;
  }

  function b64u(bytes) {
    let s = "";
    for (const b of bytes) s += String.fromCharCode(b);
    return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function unb64u(s) {
    if (typeof s !== "string" || !/^[A-Za-z0-9_-]*$/.test(s)) throw new Error("not base64url");
    s = s.replace(/-/g, "+").replace(/_/g, "/");
    while (s.length % 4) s += "=";
    const bin = atob(s);
    const out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
  }

  // fingerprint: SHA-256("capy-share-request-v1\0" id "\0" spki), first
  // 100 bits in base32 (internal/share.Fingerprint).
  async function fingerprint(id, spki) {
    const h = await crypto.subtle.digest("SHA-256", concat(enc.encode("capy-share-request-v1\x00" + id + "\x00"), spki));
    return base32(new Uint8Array(h)).slice(0, FP_LEN);
  }

  function formatCode(id, fp) {
    return (id + fp).match(/.{1,5}/g).join("-");
  }

  function wrapLabel(id) { return enc.encode("capy-share-wrap-v1\x00" + id); }

  function entryAAD(id, i, n) { return concat(enc.encode("capy-share-entry-v1\x00" + id + "\x00"), u16(i), u16(n)); }

  // parseBlob reads internal/share's sealed blob; it throws on anything
  // malformed, as share.ParseBlob refuses it.
  function parseBlob(b) {
    const bad = (why) => { throw new Error("malformed share: " + why); };
    if (b.length < MAGIC.length + 4) bad("truncated");
    for (let i = 0; i < MAGIC.length; i++) if (b[i] !== MAGIC[i]) bad("not a capy share (or another version)");
    const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
    let o = MAGIC.length;
    const w = dv.getUint16(o); o += 2;
    if (w !== 0 && w !== 256) bad("wrapped key");
    if (b.length < o + w + 2) bad("truncated");
    const wrapped = b.slice(o, o + w); o += w;
    const n = dv.getUint16(o); o += 2;
    if (n === 0 || n > MAX_ENTRIES) bad("count");
    const entries = [];
    for (let i = 0; i < n; i++) {
      if (b.length < o + 16) bad("truncated");
      const iv = b.slice(o, o + 12);
      const l = dv.getUint32(o + 12); o += 16;
      if (l < 19 || l > b.length - o) bad("entry length");
      entries.push({ iv, ct: b.slice(o, o + l) });
      o += l;
    }
    if (o !== b.length) bad("trailing bytes");
    return { wrapped, entries };
  }

  // open decrypts every entry with the data key (an AES-GCM CryptoKey).
  async function open(id, parsed, key) {
    const n = parsed.entries.length;
    const out = [];
    for (let i = 0; i < n; i++) {
      const e = parsed.entries[i];
      const pt = new Uint8Array(await crypto.subtle.decrypt({ name: "AES-GCM", iv: e.iv, additionalData: entryAAD(id, i, n) }, key, e.ct));
      const nl = (pt[0] << 8) | pt[1];
      if (2 + nl > pt.length) throw new Error("malformed entry");
      out.push({ name: utf8.decode(pt.slice(2, 2 + nl)), value: utf8.decode(pt.slice(2 + nl)) });
    }
    return out;
  }

  // api calls capyd's JSON API on this origin; a problem document
  // becomes an Error with .slug and .status.
  async function api(method, path, body) {
    const init = { method, credentials: "omit", cache: "no-store", referrerPolicy: "no-referrer", headers: {} };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const resp = await fetch(path, init);
    let doc = null;
    try { doc = await resp.json(); } catch (_) { /* not JSON */ }
    if (!resp.ok) {
      const err = new Error((doc && (doc.detail || doc.title)) || ("HTTP " + resp.status));
      err.status = resp.status;
      err.slug = doc && typeof doc.type === "string" ? doc.type.replace(/^urn:capy:problem:/, "") : "";
      throw err;
    }
    return doc;
  }

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function copyButton(text, label) {
    const b = el("button", "secondary copy", label || "Copy");
    b.type = "button";
    b.addEventListener("click", async () => {
      try {
        await navigator.clipboard.writeText(text);
        b.textContent = "Copied";
      } catch (_) {
        b.textContent = "Copy failed: select the text";
      }
      setTimeout(() => { b.textContent = label || "Copy"; }, 2000);
    });
    return b;
  }

  // renderValues shows the decrypted values, each with a copy button.
  function renderValues(container, entries) {
    container.replaceChildren();
    for (const e of entries) {
      const row = el("div", "secret");
      row.append(el("div", "name mono", e.name), el("div", "value mono", e.value), copyButton(e.value));
      container.append(row);
    }
  }

  function show(id) { document.getElementById(id).classList.remove("hidden"); }
  function hide(id) { document.getElementById(id).classList.add("hidden"); }
  function text(id, s) { document.getElementById(id).textContent = s; }

  function when(iso) {
    const d = new Date(iso);
    return isNaN(d) ? "" : d.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
  }

  return { ID_LEN, fingerprint, formatCode, wrapLabel, parseBlob, open, api, b64u, unb64u, el, copyButton, renderValues, show, hide, text, when };
})();
