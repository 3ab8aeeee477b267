// The /share page: make a non-extractable RSA-OAEP key pair, register
// its public key as a share request, show the request code, poll until a
// member answered, then unwrap, decrypt and show the values once.
"use strict";

(() => {
  const S = capyShare;
  const DB = "capy-share", STORE = "requests", SLOT = "current";
  const POLL_MS = 3000;

  function idb() {
    return new Promise((resolve, reject) => {
      const r = indexedDB.open(DB, 1);
      r.onupgradeneeded = () => r.result.createObjectStore(STORE);
      r.onsuccess = () => resolve(r.result);
      r.onerror = () => reject(r.error);
    });
  }

  async function idbDo(mode, fn) {
    const db = await idb();
    try {
      return await new Promise((resolve, reject) => {
        const tx = db.transaction(STORE, mode);
        const req = fn(tx.objectStore(STORE));
        tx.oncomplete = () => resolve(req && req.result);
        tx.onerror = () => reject(tx.error);
      });
    } finally {
      db.close();
    }
  }

  const load = () => idbDo("readonly", (s) => s.get(SLOT));
  const save = (rec) => idbDo("readwrite", (s) => s.put(rec, SLOT));
  const forget = () => idbDo("readwrite", (s) => s.delete(SLOT));

  // newRequest makes the key pair (the private key non-extractable: the
  // flag covers the private key; a public key is always exportable),
  // registers the public key and keeps both in IndexedDB.
  async function newRequest() {
    const keys = await crypto.subtle.generateKey(
      { name: "RSA-OAEP", modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: "SHA-256" },
      false, ["wrapKey", "unwrapKey"]);
    const spki = new Uint8Array(await crypto.subtle.exportKey("spki", keys.publicKey));
    const doc = await S.api("POST", "/v1/share-requests", { public_key: S.b64u(spki) });
    const id = doc.request.id;
    if (typeof id !== "string" || !/^[a-z2-7]{10}$/.test(id)) throw new Error("the service answered a malformed request id");
    const fp = await S.fingerprint(id, spki);
    const rec = { id, code: S.formatCode(id, fp), expiresAt: doc.request.expires_at, privateKey: keys.privateKey, publicKey: keys.publicKey };
    await save(rec);
    return rec;
  }

  let timer = null;

  function showCode(rec) {
    S.hide("step-working");
    // One unbreakable group per five characters (dash included), so a
    // narrow screen wraps the code between groups, never inside one.
    const groups = rec.code.split("-").map((g, i, all) => S.el("span", "group", g + (i < all.length - 1 ? "-" : "")));
    document.getElementById("code").replaceChildren(...groups);
    document.getElementById("copy-code-slot").replaceChildren(S.copyButton(rec.code, "Copy code"));
    S.text("command", "capy share NAME --to " + rec.code);
    S.text("expiry", "This code works until " + S.when(rec.expiresAt) + ".");
    S.show("step-code");
  }

  function fail(title, message) {
    if (timer) clearTimeout(timer);
    S.hide("step-working");
    S.hide("step-code");
    S.text("error-title", title);
    S.text("error-text", message);
    S.show("step-error");
  }

  async function poll(rec) {
    let doc;
    try {
      doc = await S.api("POST", "/v1/shares/" + rec.id + "/open");
    } catch (e) {
      if (e.slug === "share-opened") {
        await forget();
        return fail("Already opened", "The values sent to this code were already fetched, here or elsewhere. They are gone from the service. Ask the sender to share again with a new code.");
      }
      if (e.slug === "share-expired" || e.slug === "not-found") {
        await forget();
        return fail("This code has expired", "Nothing was sent to it in time, and the service has forgotten it. Get a new code and send that one.");
      }
      S.text("status", "Cannot reach the service (" + e.message + "); trying again…");
      timer = setTimeout(() => poll(rec), POLL_MS * 2);
      return;
    }
    if (doc.state === "pending") {
      timer = setTimeout(() => poll(rec), POLL_MS);
      return;
    }
    try {
      const parsed = S.parseBlob(S.unb64u(doc.blob));
      const key = await crypto.subtle.unwrapKey("raw", parsed.wrapped, rec.privateKey,
        { name: "RSA-OAEP", label: S.wrapLabel(rec.id) }, { name: "AES-GCM", length: 256 }, false, ["decrypt"]);
      const entries = await S.open(rec.id, parsed, key);
      await forget();
      S.hide("step-code");
      S.text("lead", "These values were encrypted for this browser's key and decrypted here. Anyone who saw your request code could have answered it: confirm with the person you expect that they sent them before you use them.");
      S.renderValues(document.getElementById("values"), entries);
      S.show("step-values");
    } catch (e) {
      await forget();
      fail("These values could not be opened", "What the service sent does not decrypt with this browser's key (" + e.message + "). Nothing is shown. Ask the sender to share again with a new code.");
    }
  }

  async function start(fresh) {
    S.hide("step-error");
    S.show("step-working");
    try {
      let rec = fresh ? null : await load();
      if (rec && new Date(rec.expiresAt) <= new Date()) {
        await forget();
        rec = null;
      }
      if (!rec) rec = await newRequest();
      showCode(rec);
      poll(rec);
    } catch (e) {
      fail("Could not make a request", e.slug === "rate-limited"
        ? "Too many requests from this network; try again later."
        : "This browser or the service refused (" + e.message + "). This page needs a current browser with WebCrypto and IndexedDB.");
    }
  }

  document.getElementById("restart").addEventListener("click", () => start(true));
  start(false);
})();
