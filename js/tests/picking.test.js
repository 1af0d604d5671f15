import { PerspectiveCamera, Matrix4, Vector3 } from "three";
import { describe, expect, it } from "vitest";
import { pickNearest, projectPoint, unprojectPoint } from "../picking.js";

function camera(aspect) {
  const cam = new PerspectiveCamera(45, aspect, 0.1, 100);
  cam.position.set(0, 0, 10);
  cam.lookAt(0, 0, 0);
  cam.updateMatrixWorld();
  cam.updateProjectionMatrix();
  return cam;
}
const viewProj = (cam) => new Matrix4().multiplyMatrices(cam.projectionMatrix, cam.matrixWorldInverse);

describe("projectPoint / unprojectPoint", () => {
  it("puts the look-at point at the canvas center and agrees with three.js", () => {
    const cam = camera(2);
    const m = viewProj(cam).elements;
    const [x, y] = projectPoint(m, 0, 0, 0, 800, 400);
    expect(x).toBeCloseTo(400);
    expect(y).toBeCloseTo(200);
    const p = new Vector3(1.5, -0.7, 2).project(cam);
    const [px, py, pz] = projectPoint(m, 1.5, -0.7, 2, 800, 400);
    expect(px).toBeCloseTo(((p.x + 1) / 2) * 800);
    expect(py).toBeCloseTo(((1 - p.y) / 2) * 400);
    expect(pz).toBeCloseTo(p.z);
  });

  it("round-trips through unprojectPoint", () => {
    const cam = camera(1.3);
    const m = viewProj(cam);
    const [px, py, pz] = projectPoint(m.elements, -1.2, 0.4, 3.3, 650, 500);
    const back = unprojectPoint(m.clone().invert().elements, px, py, pz, 650, 500);
    expect(back[0]).toBeCloseTo(-1.2, 4);
    expect(back[1]).toBeCloseTo(0.4, 4);
    expect(back[2]).toBeCloseTo(3.3, 4);
  });

  it("returns null behind the camera", () => {
    expect(projectPoint(viewProj(camera(1)).elements, 0, 0, 20, 100, 100)).toBeNull();
  });
});

describe("pickNearest", () => {
  const pts = new Float32Array([0, 0, 0, 1, 0, 0, 0, 1, 0, -3, -1, 0, 0, 0, 20]);

  it("picks the point nearest the cursor within the radius", () => {
    const cam = camera(1);
    const m = viewProj(cam).elements;
    const [x, y] = projectPoint(m, 1, 0, 0, 500, 500);
    expect(pickNearest(pts, m, 500, 500, x + 3, y - 2, 8)).toBe(1);
    expect(pickNearest(pts, m, 500, 500, x + 30, y, 8)).toBe(-1);
    const [x2, y2] = projectPoint(m, 0, 1, 0, 500, 500);
    expect(pickNearest(pts, m, 500, 500, x2, y2 + 1, 8)).toBe(2);
  });

  it("prefers the point nearer the camera when two overlap on screen", () => {
    const cam = camera(1);
    const m = viewProj(cam).elements;
    const stacked = new Float32Array([0, 0, -5, 0, 0, 5]);
    expect(pickNearest(stacked, m, 300, 300, 150, 150, 5)).toBe(1);
  });

  it("ignores points behind the camera", () => {
    const m = viewProj(camera(1)).elements;
    expect(pickNearest(new Float32Array([0, 0, 20]), m, 300, 300, 150, 150, 50)).toBe(-1);
  });

  it("follows an aspect change: old pixel positions miss, new ones hit", () => {
    const cam = camera(1);
    const [x, y] = projectPoint(viewProj(cam).elements, -3, -1, 0, 400, 400);
    expect(pickNearest(pts, viewProj(cam).elements, 400, 400, x, y, 4)).toBe(3);
    cam.aspect = 2;
    cam.updateProjectionMatrix();
    const m = viewProj(cam).elements;
    expect(pickNearest(pts, m, 800, 400, x, y, 4)).toBe(-1);
    const [x2, y2] = projectPoint(m, -3, -1, 0, 800, 400);
    expect(pickNearest(pts, m, 800, 400, x2, y2, 4)).toBe(3);
  });
});
