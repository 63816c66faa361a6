// The orbit view of one face mesh (a GLB from `/v1/reconstruct?format=glb`, y up, facing +z).

import * as THREE from "three";
import { OrbitControls } from "three/addons/controls/OrbitControls.js";
import { GLTFLoader } from "three/addons/loaders/GLTFLoader.js";

const UNTEXTURED = new THREE.Color(0xc8c8c8);

export class MeshViewer {
  /** A viewer drawing on `canvas` (its CSS size sets the drawing size). */
  constructor(canvas) {
    this.canvas = canvas;
    // preserveDrawingBuffer: screenshots and pixel reads see the last frame
    this.renderer = new THREE.WebGLRenderer({ canvas, antialias: true, preserveDrawingBuffer: true });
    this.renderer.setPixelRatio(Math.min(window.devicePixelRatio || 1, 2));
    this.scene = new THREE.Scene();
    this.scene.background = new THREE.Color(0x1f2430);
    this.camera = new THREE.PerspectiveCamera(30, 1, 0.1, 1e5);
    this.scene.add(new THREE.HemisphereLight(0xffffff, 0x444455, 1.6));
    this.light = new THREE.DirectionalLight(0xffffff, 1.6);
    this.camera.add(this.light);
    this.light.position.set(0.3, 0.4, 1);
    this.scene.add(this.camera);
    this.controls = new OrbitControls(this.camera, canvas);
    this.controls.addEventListener("change", () => this.render());
    this.loader = new GLTFLoader();
    this.mesh = null;
    this.textured = true;
    this.wireframe = false;
    new ResizeObserver(() => this.resize()).observe(canvas);
    this.resize();
  }

  resize() {
    const { clientWidth: w, clientHeight: h } = this.canvas;
    if (!w || !h) return;
    this.renderer.setSize(w, h, false);
    this.camera.aspect = w / h;
    this.camera.updateProjectionMatrix();
    this.render();
  }

  render() {
    this.renderer.render(this.scene, this.camera);
    // for tests and tools: how far the camera is from the point it orbits
    this.canvas.dataset.cameraDistance = this.camera.position.distanceTo(this.controls.target).toFixed(3);
  }

  /** Show the mesh of a GLB (ArrayBuffer), centred and framed; replaces the previous one. */
  async show(glb) {
    const gltf = await this.loader.parseAsync(glb, "");
    this.clear();
    const root = gltf.scene;
    const box = new THREE.Box3().setFromObject(root);
    const center = box.getCenter(new THREE.Vector3());
    root.position.sub(center);  // the mesh comes in image pixels: centre it on the origin
    this.mesh = root;
    root.traverse((o) => {
      if (!o.isMesh) return;
      o.userData.map = o.material.map;
      if (!o.geometry.attributes.normal) {
        // the GLB has no normals (the loader would shade flat): smooth ones from the triangles
        o.geometry.computeVertexNormals();
        o.material.flatShading = false;
      }
    });
    this.scene.add(root);
    this.radius = box.getSize(new THREE.Vector3()).length() / 2;
    this.applyMaterial();
    this.frame();
  }

  /** Remove the mesh (and free its GPU buffers). */
  clear() {
    if (!this.mesh) return;
    this.scene.remove(this.mesh);
    this.mesh.traverse((o) => {
      if (!o.isMesh) return;
      o.geometry.dispose();
      o.userData.map?.dispose();
      o.material.dispose();
    });
    this.mesh = null;
    this.render();
  }

  /** Camera in front of the face (+z), the whole mesh in view; this is what "reset" returns to. */
  frame() {
    const fov = THREE.MathUtils.degToRad(this.camera.fov);
    const dist = (this.radius / Math.sin(fov / 2)) * 1.05;
    this.camera.near = dist / 100;
    this.camera.far = dist * 100;
    this.camera.position.set(0, 0, dist);
    this.camera.updateProjectionMatrix();
    this.controls.target.set(0, 0, 0);
    this.controls.minDistance = dist / 10;
    this.controls.maxDistance = dist * 10;
    this.controls.update();
    this.controls.saveState();
    this.render();
  }

  reset() {
    this.controls.reset();
    this.render();
  }

  setTextured(on) {
    this.textured = on;
    this.applyMaterial();
  }

  setWireframe(on) {
    this.wireframe = on;
    this.applyMaterial();
  }

  applyMaterial() {
    this.mesh?.traverse((o) => {
      if (!o.isMesh) return;
      const m = o.material;
      m.map = this.textured ? o.userData.map : null;
      m.color = this.textured ? new THREE.Color(0xffffff) : UNTEXTURED;
      m.wireframe = this.wireframe;
      m.needsUpdate = true;
    });
    this.render();
  }
}
