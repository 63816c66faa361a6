// The HTTP API of `prnet serve`, as the page uses it. Every request goes to this page's own
// origin, relative to the page (so a proxy may serve it under a path prefix); an API key given
// as `?key=` in the page's URL is sent as the `X-API-Key` header.

const KEY = new URLSearchParams(location.search).get("key");

/** An error answered by the API (`{"error": code, "message": one line}`) or by the network. */
export class ApiError extends Error {
  constructor(code, message, status = 0) {
    super(message);
    this.code = code;
    this.status = status;
  }
}

function headers() {
  return KEY ? { "X-API-Key": KEY } : {};
}

/** One line out of any text (the page shows errors on one line). */
export function oneLine(text) {
  return String(text).replace(/\s+/g, " ").trim();
}

async function failure(res) {
  let code = `http_${res.status}`;
  let message = res.statusText || "request failed";
  try {
    const body = await res.json();
    if (body && typeof body === "object") {
      code = body.error || code;
      message = body.message || body.detail || message;
      if (typeof message !== "string") message = JSON.stringify(message);
    }
  } catch {
    // not JSON: keep the status line
  }
  return new ApiError(code, oneLine(message), res.status);
}

async function send(path, init = {}) {
  let res;
  try {
    res = await fetch(path, { ...init, headers: { ...headers(), ...(init.headers || {}) } });
  } catch (err) {
    throw new ApiError("network", oneLine(`cannot reach the server: ${err.message}`));
  }
  if (!res.ok) throw await failure(res);
  return res;
}

function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null) q.set(k, typeof v === "string" ? v : JSON.stringify(v));
  }
  const s = q.toString();
  return s ? `?${s}` : "";
}

function form(fields) {
  const data = new FormData();
  for (const [name, blob] of Object.entries(fields)) {
    data.append(name, blob, blob.name || `${name}.jpg`);
  }
  return data;
}

/** The bundled sample photo (a Blob named `demo.jpg`). */
export async function demoImage() {
  const res = await send("v1/demo-image");
  return new File([await res.blob()], "demo.jpg", { type: res.headers.get("content-type") || "image/jpeg" });
}

/** `POST /v1/reconstruct` as JSON: `{schema, width, height, faces: [...]}`. */
export async function reconstruct(image) {
  const res = await send("v1/reconstruct", { method: "POST", body: form({ image }) });
  return res.json();
}

/** The file name a response proposes (Content-Disposition), else `fallback`. */
function fileName(res, fallback) {
  const cd = res.headers.get("content-disposition") || "";
  const m = /filename\*?=(?:UTF-8'')?"?([^";]+)"?/i.exec(cd);
  return m ? decodeURIComponent(m[1]) : fallback;
}

/**
 * `POST /v1/reconstruct?format=...&face=...`: `{blob, name}` of the file (GLB, OBJ, PLY or a
 * zip of several files).
 */
export async function reconstructFile(image, format, face, stem = "face") {
  const res = await send(`v1/reconstruct${query({ format, face: String(face) })}`, {
    method: "POST",
    body: form({ image }),
  });
  // named after the photo, with the ending the server gives (e.g. `.obj`, `.zip`)
  const ext = /\.([A-Za-z0-9]+)$/.exec(fileName(res, ""))?.[1] || format;
  return { blob: await res.blob(), name: `${stem}_${face}.${ext}` };
}

/** `POST /v1/swap?mode=face|eyes`: the PNG of `source` with the face of `reference`. */
export async function swap(source, reference, mode) {
  const res = await send(`v1/swap${query({ mode })}`, {
    method: "POST",
    body: form({ source, reference }),
  });
  return res.blob();
}
