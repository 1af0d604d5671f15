// The parts of three.js the 3D view uses, as one namespace: the page-wide renderer (js/sharedgl.js)
// hands the first widget's copy to every view, so scenes, materials and the renderer drawing them
// always come from one three.js instance even though each widget's bundle carries its own.
export {
  BufferAttribute,
  BufferGeometry,
  Color,
  DataTexture,
  LinearFilter,
  Matrix4,
  PerspectiveCamera,
  Points,
  REVISION,
  RGBAFormat,
  Scene,
  ShaderMaterial,
  Vector3,
  WebGLRenderer,
} from "three";
export { OrbitControls } from "three/examples/jsm/controls/OrbitControls.js";
