// Screen-space picking: project every point with the camera's view-projection matrix and take the
// nearest one within a pixel radius. Pure math on column-major 4x4 matrices (three.js `elements`),
// so it follows resizes as long as the caller passes the current matrix and canvas size.

/**
 * Projects a world point to canvas pixels (origin top-left) and NDC depth.
 * @param {ArrayLike<number>} m column-major view-projection matrix (projection * view)
 * @param {number} x
 * @param {number} y
 * @param {number} z
 * @param {number} width canvas CSS width
 * @param {number} height canvas CSS height
 * @returns {[number, number, number] | null} [px, py, depth], null when behind the camera
 */
export function projectPoint(m, x, y, z, width, height) {
  const w = m[3] * x + m[7] * y + m[11] * z + m[15];
  if (w <= 0) return null;
  const nx = (m[0] * x + m[4] * y + m[8] * z + m[12]) / w;
  const ny = (m[1] * x + m[5] * y + m[9] * z + m[13]) / w;
  const nz = (m[2] * x + m[6] * y + m[10] * z + m[14]) / w;
  return [((nx + 1) / 2) * width, ((1 - ny) / 2) * height, nz];
}

/**
 * Inverse of projectPoint: canvas pixels and NDC depth back to a world point.
 * @param {ArrayLike<number>} inv inverse of the view-projection matrix (column-major)
 * @param {number} px
 * @param {number} py
 * @param {number} depth NDC depth (-1 near .. 1 far)
 * @param {number} width
 * @param {number} height
 * @returns {[number, number, number]}
 */
export function unprojectPoint(inv, px, py, depth, width, height) {
  const nx = (px / width) * 2 - 1;
  const ny = 1 - (py / height) * 2;
  const w = inv[3] * nx + inv[7] * ny + inv[11] * depth + inv[15];
  return [
    (inv[0] * nx + inv[4] * ny + inv[8] * depth + inv[12]) / w,
    (inv[1] * nx + inv[5] * ny + inv[9] * depth + inv[13]) / w,
    (inv[2] * nx + inv[6] * ny + inv[10] * depth + inv[14]) / w,
  ];
}

/**
 * Index of the point nearest to (px, py) on screen within `radius` pixels; among points at the same
 * pixel distance the one nearer the camera wins. Points outside the view volume are skipped.
 * @param {Float32Array} positions N*3 world coordinates
 * @param {ArrayLike<number>} m column-major view-projection matrix
 * @param {number} width canvas CSS width
 * @param {number} height canvas CSS height
 * @param {number} px cursor x in CSS pixels
 * @param {number} py cursor y in CSS pixels
 * @param {number} radius pixels
 * @returns {number} index, or -1 when nothing is within radius
 */
export function pickNearest(positions, m, width, height, px, py, radius) {
  // Compare in NDC to avoid a division per point for the pixel conversion.
  const sx = width / 2;
  const sy = height / 2;
  const r2 = radius * radius;
  let best = -1;
  let bestD = Infinity;
  let bestZ = Infinity;
  for (let i = 0, o = 0; o < positions.length; i++, o += 3) {
    const x = positions[o];
    const y = positions[o + 1];
    const z = positions[o + 2];
    const w = m[3] * x + m[7] * y + m[11] * z + m[15];
    if (w <= 0) continue;
    const qx = ((m[0] * x + m[4] * y + m[8] * z + m[12]) / w + 1) * sx - px;
    const qy = (1 - (m[1] * x + m[5] * y + m[9] * z + m[13]) / w) * sy - py;
    const d = qx * qx + qy * qy;
    if (d > r2 || d > bestD) continue;
    const nz = (m[2] * x + m[6] * y + m[10] * z + m[14]) / w;
    if (nz < -1 || nz > 1) continue;
    if (d < bestD || nz < bestZ) {
      best = i;
      bestD = d;
      bestZ = nz;
    }
  }
  return best;
}
