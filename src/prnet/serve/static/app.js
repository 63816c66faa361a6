// The web viewer of `prnet serve`: photo → boxes and 68 landmarks, each face's textured mesh in
// an orbit view, pose and downloads; a second tab swaps faces between two photos.
//
// Test hooks: `body[data-state]` is idle | busy | ready | no-face | error, `body[data-swap-state]`
// busy | ready | error; `#landmark-count` is the number of landmarks drawn; `#error` holds one
// line; `#photo-canvas[data-photo-size]` is the photo as the browser decoded it ("WxH"; empty
// when it cannot); `#mesh-canvas` is the WebGL canvas (its drawing buffer is kept), with
// `data-camera-distance`.

import { ApiError, demoImage, oneLine, reconstruct, reconstructFile, swap } from "./api.js";
import { drawOverlay, faceAt, faceColor } from "./overlay.js";
import { MeshViewer } from "./viewer3d.js";

const $ = (id) => document.getElementById(id);

const state = {
  image: null,   // the File sent to the API
  result: null,  // the JSON of /v1/reconstruct
  bitmap: null,  // the decoded photo
  selected: -1,  // index of the face shown in 3D
  glbs: new Map(),  // face index → ArrayBuffer (GLB), for the current image
  run: 0,        // increases with every new photo: late answers for an older one are dropped
};

let viewer = null;

function setState(name) {
  document.body.dataset.state = name;
}

function showError(err) {
  const msg = err instanceof ApiError && err.code && !err.code.startsWith("http_")
    ? `${err.code}: ${err.message}` : err.message || String(err);
  const line = $("error");
  line.textContent = oneLine(msg);
  line.title = line.textContent;
  line.hidden = false;
}

function clearError() {
  $("error").hidden = true;
  $("error").textContent = "";
}

function status(text) {
  $("status").textContent = text;
}

function stem() {
  const name = state.image?.name || "photo";
  return name.replace(/\.[^.]*$/, "") || "photo";
}

// ---- reconstruction ------------------------------------------------------------------------

async function loadPhoto(file) {
  const run = ++state.run;
  clearError();
  setState("busy");
  status("reconstructing…");
  enableDownloads(false);
  try {
    const [result, bitmap] = await Promise.all([
      reconstruct(file),
      createImageBitmap(file).catch(() => null),
    ]);
    if (run !== state.run) return;
    Object.assign(state, { image: file, result, bitmap, glbs: new Map(), selected: -1 });
    $("face-count").textContent = result.faces.length;
    fillFacePicker(result.faces);
    if (!result.faces.length) {
      drawPhoto();
      viewer?.clear();
      showPose(null);
      $("download-json").disabled = false;
      status("no face found");
      setState("no-face");
      return;
    }
    await selectFace(result.faces[0].index, run);
  } catch (err) {
    if (run !== state.run) return;
    showError(err);
    status("");
    enableDownloads(state.selected >= 0);  // the face still shown (of the previous photo)
    setState("error");
  }
}

function drawPhoto() {
  const { bitmap, result } = state;
  let drawn = 0;
  if (result) drawn = drawOverlay($("photo-canvas"), bitmap, result, state.selected);
  $("landmark-count").textContent = drawn;
  // as the browser decoded the photo (EXIF orientation applied): must be the server's size
  $("photo-canvas").dataset.photoSize = bitmap ? `${bitmap.width}x${bitmap.height}` : "";
}

function fillFacePicker(faces) {
  const select = $("face-select");
  select.replaceChildren(...faces.map((f) => {
    const opt = new Option(`#${f.index}`, f.index);
    opt.style.color = faceColor(f.index);
    return opt;
  }));
  select.disabled = faces.length < 2;
}

async function faceGlb(index) {
  if (!state.glbs.has(index)) {
    const { blob } = await reconstructFile(state.image, "glb", index, stem());
    state.glbs.set(index, await blob.arrayBuffer());
  }
  return state.glbs.get(index);
}

async function selectFace(index, run = state.run) {
  state.selected = index;
  $("face-select").value = index;
  drawPhoto();
  showPose(state.result.faces.find((f) => f.index === index));
  setState("busy");
  status("loading the 3D mesh…");
  try {
    const glb = await faceGlb(index);
    if (run !== state.run || state.selected !== index) return;
    await viewer.show(glb);
    enableDownloads(true);
    status(`${state.result.width}×${state.result.height}, face #${index} of ${state.result.faces.length}`);
    setState("ready");
  } catch (err) {
    if (run !== state.run) return;
    showError(err);
    status("");
    setState("error");
  }
}

function showPose(face) {
  for (const k of ["yaw", "pitch", "roll"]) {
    $(`pose-${k}`).textContent = face ? `${face.pose[k].toFixed(1)}°` : "–";
  }
}

// ---- downloads -----------------------------------------------------------------------------

function enableDownloads(on) {
  for (const f of ["glb", "obj", "ply", "json"]) $(`download-${f}`).disabled = !on;
}

function save(blob, name) {
  const url = URL.createObjectURL(blob);
  const a = Object.assign(document.createElement("a"), { href: url, download: name });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

async function download(format) {
  clearError();
  const index = state.selected;
  try {
    if (format === "json") {
      const text = JSON.stringify(state.result, null, 2);
      save(new Blob([text], { type: "application/json" }), `${stem()}.json`);
    } else if (format === "glb") {
      save(new Blob([await faceGlb(index)], { type: "model/gltf-binary" }), `${stem()}_${index}.glb`);
    } else {
      status(`preparing ${format.toUpperCase()}…`);
      const { blob, name } = await reconstructFile(state.image, format, index, stem());
      save(blob, name);
      status("");
    }
  } catch (err) {
    showError(err);
    status("");
  }
}

// ---- webcam --------------------------------------------------------------------------------

let stream = null;

async function openWebcam() {
  clearError();
  if (!navigator.mediaDevices?.getUserMedia) {
    showError(new Error("this browser gives no camera access here (a camera needs https or localhost)"));
    return;
  }
  try {
    stream = await navigator.mediaDevices.getUserMedia({ video: { width: 1280, height: 720 } });
  } catch (err) {
    showError(new Error(`camera unavailable: ${err.message || err.name}`));
    return;
  }
  $("webcam-video").srcObject = stream;
  $("webcam").hidden = false;
}

function closeWebcam() {
  stream?.getTracks().forEach((t) => t.stop());
  stream = null;
  $("webcam").hidden = true;
}

function snapshot() {
  const video = $("webcam-video");
  const canvas = Object.assign(document.createElement("canvas"), {
    width: video.videoWidth, height: video.videoHeight,
  });
  canvas.getContext("2d").drawImage(video, 0, 0);
  closeWebcam();
  canvas.toBlob((blob) => loadPhoto(new File([blob], "webcam.jpg", { type: "image/jpeg" })),
    "image/jpeg", 0.92);
}

// ---- face swap -----------------------------------------------------------------------------

function preview(input, img) {
  const file = input.files[0];
  if (img.src.startsWith("blob:")) URL.revokeObjectURL(img.src);
  img.src = file ? URL.createObjectURL(file) : "";
}

async function runSwap(event) {
  event.preventDefault();
  clearError();
  const source = $("swap-source").files[0];
  const reference = $("swap-reference").files[0];
  const result = $("swap-result");
  document.body.dataset.swapState = "busy";
  $("swap-run").disabled = true;
  try {
    const png = await swap(source, reference, $("swap-mode").value);
    if (result.src.startsWith("blob:")) URL.revokeObjectURL(result.src);
    await new Promise((resolve, reject) => {
      result.onload = resolve;
      result.onerror = () => reject(new Error("the server's answer is not an image"));
      result.src = URL.createObjectURL(png);
    });
    Object.assign($("swap-download"), { href: result.src, hidden: false });
    document.body.dataset.swapState = "ready";
  } catch (err) {
    showError(err);
    document.body.dataset.swapState = "error";
  } finally {
    $("swap-run").disabled = false;
  }
}

// ---- wiring --------------------------------------------------------------------------------

function showTab(tab) {
  for (const t of document.querySelectorAll("[role=tab]")) {
    const on = t === tab;
    t.setAttribute("aria-selected", on);
    $(t.dataset.panel).hidden = !on;
  }
  if (tab.id === "tab-reconstruct") viewer?.resize();
}

function wire() {
  for (const t of document.querySelectorAll("[role=tab]")) t.addEventListener("click", () => showTab(t));

  $("file-input").addEventListener("change", (e) => {
    const file = e.target.files[0];
    if (file) loadPhoto(file);
    e.target.value = "";  // the same file picked again reloads it
  });
  // a photo dropped anywhere on the page (not only on the zone; but a swap input takes its
  // own) is loaded, never opened by the browser in place of the page
  const zone = $("drop-zone");
  document.addEventListener("dragover", (e) => {
    e.preventDefault();
    zone.classList.add("over");
  });
  document.addEventListener("dragleave", (e) => {
    if (!e.relatedTarget) zone.classList.remove("over");
  });
  document.addEventListener("drop", (e) => {
    zone.classList.remove("over");
    if (e.target.matches?.("#panel-swap input[type=file]")) return;  // the input takes it
    e.preventDefault();
    const file = e.dataTransfer?.files[0];
    if (!file) return;
    showTab($("tab-reconstruct"));
    loadPhoto(file);
  });
  $("demo-button").addEventListener("click", loadDemo);
  $("webcam-button").addEventListener("click", openWebcam);
  $("webcam-snap").addEventListener("click", snapshot);
  $("webcam-close").addEventListener("click", closeWebcam);

  $("face-select").addEventListener("change", (e) => selectFace(Number(e.target.value)));
  $("photo-canvas").addEventListener("click", (e) => {
    if (!state.result) return;
    const i = faceAt($("photo-canvas"), state.result, e.clientX, e.clientY);
    if (i >= 0 && i !== state.selected) selectFace(i);
  });
  $("toggle-texture").addEventListener("change", (e) => viewer.setTextured(e.target.checked));
  $("toggle-wireframe").addEventListener("change", (e) => viewer.setWireframe(e.target.checked));
  $("reset-view").addEventListener("click", () => viewer.reset());
  for (const f of ["glb", "obj", "ply", "json"]) {
    $(`download-${f}`).addEventListener("click", () => download(f));
  }

  $("swap-source").addEventListener("change", (e) => preview(e.target, $("swap-source-preview")));
  $("swap-reference").addEventListener("change", (e) => preview(e.target, $("swap-reference-preview")));
  $("swap-form").addEventListener("submit", runSwap);
}

async function loadDemo() {
  clearError();
  setState("busy");
  try {
    await loadPhoto(await demoImage());
  } catch (err) {
    showError(err);
    setState("error");
  }
}

function placeholder() {
  const canvas = $("photo-canvas");
  const ctx = canvas.getContext("2d");
  ctx.fillStyle = "#9aa3b5";
  ctx.font = "22px sans-serif";
  ctx.textAlign = "center";
  ctx.fillText("drop a photo here, pick one or load the sample", canvas.width / 2, canvas.height / 2);
}

function main() {
  placeholder();
  try {
    viewer = new MeshViewer($("mesh-canvas"));
  } catch (err) {
    showError(new Error(`3D view unavailable (WebGL): ${err.message}`));
  }
  wire();
  if (new URLSearchParams(location.search).get("demo") === "1") loadDemo();
}

main();
