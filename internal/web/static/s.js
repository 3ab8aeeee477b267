// The /s/<id>#<key> page: on a click (so that a link preview that runs
// scripts does not spend a view), fetch the sealed share, decrypt it with
// the key from the fragment and show the values.
"use strict";

(() => {
  const S = capyShare;
  const id = location.pathname.replace(/^\/s\//, "");
  const frag = location.hash.replace(/^#/, "");

  function fail(title, message) {
    S.hide("step-reveal");
    S.text("error-title", title);
    S.text("error-text", message);
    S.show("step-error");
  }

  let raw = null;
  try {
    raw = S.unb64u(frag);
  } catch (_) { /* below */ }
  if (!/^[a-z2-7]{10}$/.test(id) || !raw || raw.length !== 32) {
    fail("This link is incomplete", "The part after # (the key) is missing or damaged. Ask the sender for the whole link.");
    return;
  }

  document.getElementById("open").addEventListener("click", async (ev) => {
    ev.target.disabled = true;
    let doc;
    try {
      doc = await S.api("POST", "/v1/shares/" + id + "/open");
    } catch (e) {
      if (e.slug === "share-opened") return fail("Already opened", "This link was already opened as many times as it allows, and the service has deleted it. Ask the sender to share again.");
      if (e.slug === "share-expired" || e.slug === "not-found") return fail("This link has expired", "The service has deleted it. Ask the sender to share again.");
      ev.target.disabled = false;
      return fail("Could not reach the service", e.message);
    }
    try {
      if (doc.state !== "ready" && doc.state !== "opened") throw new Error("nothing to open yet");
      const key = await crypto.subtle.importKey("raw", raw, { name: "AES-GCM" }, false, ["decrypt"]);
      const entries = await S.open(id, S.parseBlob(S.unb64u(doc.blob)), key);
      // The key has done its work: keep it out of the history from now on.
      history.replaceState(null, "", location.pathname);
      S.hide("step-reveal");
      S.renderValues(document.getElementById("values"), entries);
      S.text("views-left", doc.views_left > 0
        ? "This link opens " + doc.views_left + " more time" + (doc.views_left === 1 ? "" : "s") + ", until " + S.when(doc.expires_at) + "."
        : "The service has deleted these values. Copy them somewhere safe now: this link will not open again.");
      S.show("step-values");
    } catch (e) {
      fail("These values could not be opened", "The link's key does not open what the service sent (" + e.message + "). Nothing is shown.");
    }
  });
})();
