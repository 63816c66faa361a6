// The photo with each face's box and 68 landmarks drawn over it.

// The 68-point contours (jaw, brows, nose bridge, nostrils, eyes, lips); closed ones loop.
const CONTOURS = [
  [0, 17, false], [17, 22, false], [22, 27, false], [27, 31, false], [31, 36, false],
  [36, 42, true], [42, 48, true], [48, 60, true], [60, 68, true],
];

const COLORS = ["#34d399", "#60a5fa", "#f472b6", "#fbbf24", "#a78bfa", "#f87171"];

/** The colour of face `i` (boxes, landmarks and the face picker share it). */
export function faceColor(i) {
  return COLORS[i % COLORS.length];
}

/**
 * Draw `bitmap` (or, when null, a dark background) on `canvas` at the photo's resolution, then
 * every face of `result` (the JSON of `/v1/reconstruct`); the `selected` face is drawn thicker.
 * Returns the number of landmarks drawn.
 */
export function drawOverlay(canvas, bitmap, result, selected) {
  canvas.width = result.width || bitmap.width;
  canvas.height = result.height || bitmap.height;
  const ctx = canvas.getContext("2d");
  if (bitmap) {
    ctx.drawImage(bitmap, 0, 0, canvas.width, canvas.height);
  } else {  // a format the server reads but this browser does not (e.g. TIFF): points only
    ctx.fillStyle = "#0d0f14";
    ctx.fillRect(0, 0, canvas.width, canvas.height);
  }
  const unit = Math.max(1, Math.max(canvas.width, canvas.height) / 500);
  let drawn = 0;
  for (const face of result.faces) {
    const color = faceColor(face.index);
    const thick = face.index === selected;
    const [x0, y0, x1, y1] = face.box;
    ctx.lineWidth = unit * (thick ? 2.5 : 1.25);
    ctx.strokeStyle = color;
    ctx.strokeRect(x0, y0, x1 - x0, y1 - y0);
    ctx.font = `bold ${Math.round(12 * unit)}px sans-serif`;
    const label = `#${face.index}  ${face.score.toFixed(2)}`;
    const ly = Math.max(y0 - 5 * unit, 12 * unit);
    ctx.lineWidth = 3 * unit;
    ctx.strokeStyle = "rgba(0, 0, 0, 0.75)";
    ctx.strokeText(label, x0, ly);
    ctx.fillStyle = color;
    ctx.fillText(label, x0, ly);
    ctx.strokeStyle = color;

    const pts = face.landmarks;
    ctx.lineWidth = unit * 0.75;
    ctx.globalAlpha = 0.7;
    for (const [start, end, closed] of CONTOURS) {
      ctx.beginPath();
      ctx.moveTo(pts[start][0], pts[start][1]);
      for (let k = start + 1; k < end; k++) ctx.lineTo(pts[k][0], pts[k][1]);
      if (closed) ctx.closePath();
      ctx.stroke();
    }
    ctx.globalAlpha = 1;
    const r = unit * (thick ? 2.2 : 1.6);
    pts.forEach(([x, y], k) => {
      ctx.beginPath();
      ctx.arc(x, y, r, 0, 2 * Math.PI);
      if (face.landmark_visibility[k]) {
        ctx.fillStyle = color;
        ctx.fill();
      } else {
        ctx.fillStyle = "#ffffff";  // hidden by the face itself: white, ringed in the face colour
        ctx.fill();
        ctx.stroke();
      }
      drawn += 1;
    });
  }
  return drawn;
}

/** The index of the face whose box holds the point (clientX, clientY), or -1. */
export function faceAt(canvas, result, clientX, clientY) {
  // the canvas is drawn with `object-fit: contain`: centred, scaled by the smaller ratio
  const rect = canvas.getBoundingClientRect();
  const scale = Math.min(rect.width / canvas.width, rect.height / canvas.height);
  const x = (clientX - rect.left - (rect.width - canvas.width * scale) / 2) / scale;
  const y = (clientY - rect.top - (rect.height - canvas.height * scale) / 2) / scale;
  const hit = result.faces.find(({ box: [x0, y0, x1, y1] }) => x >= x0 && x <= x1 && y >= y0 && y <= y1);
  return hit ? hit.index : -1;
}
