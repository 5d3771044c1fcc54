// The built-in avatar drawn with canvas 2D from ARKit-52 values and head angles.
// Mirrors src/visemic/render/avatar/ roughly: same look, same conventions. Lips are apart by
// jawOpen − mouthClose (ARKit's convention); "Left" channels are the character's left, the
// picture's right. Shapes are laid out on a 512×512 reference canvas and scaled.

const LOOK = {
  skin: "#f3c9ab", skinShade: "#dfa487", blush: "#f08c84", hair: "#5b3a29",
  hairShine: "#7d563d", iris: "#4d7fae", lips: "#c8706c", lipsDark: "#a9554f",
  shirt: "#2f7f8f", shirtShade: "#236674", mouth: "#5b1f27", tongue: "#d9777a",
  teeth: "#fbf7f2", bg: ["#eaf1f4", "#c9d9e2"], brow: "#4a2f22", outline: "#6b4a3a",
};

const REF = 512;
const HEAD = { x: 256, y: 232 };
const NECK = { x: 256, y: 372 };
const LIP_GAP = 62; // reference pixels of lip gap at jawOpen − mouthClose = 1

function clamp01(v) { return v < 0 ? 0 : v > 1 ? 1 : v; }

export class Avatar {
  constructor(canvas) {
    this.canvas = canvas;
    this.ctx = canvas.getContext("2d");
    this.values = {};
    this.head = [0, 0, 0];
    this.draw();
  }

  /** Show one frame: values {ARKit name: 0…1}, head [yaw, pitch, roll] in degrees. */
  set(values, head) {
    this.values = values || {};
    this.head = head || [0, 0, 0];
    this.draw();
  }

  v(name) { return clamp01(Number(this.values[name]) || 0); }

  draw() {
    const { canvas, ctx } = this;
    const s = Math.min(canvas.width, canvas.height) / REF;
    ctx.save();
    ctx.setTransform(s, 0, 0, s, (canvas.width - REF * s) / 2, (canvas.height - REF * s) / 2);
    this.background(ctx);
    const [yaw, pitch, roll] = this.head.map((a) => Number(a) || 0);
    // Roll turns the whole head about the top of the neck; yaw and pitch slide the features
    // across the face (a 2.5D parallax), more for the nose than for the ears.
    const fx = Math.sin((yaw * Math.PI) / 180) * 60;
    const fy = Math.sin((pitch * Math.PI) / 180) * 60;
    this.body(ctx, fx);
    ctx.translate(NECK.x, NECK.y);
    ctx.rotate((-roll * Math.PI) / 180);
    ctx.translate(-NECK.x, -NECK.y);
    this.headShape(ctx, fx, fy);
    ctx.restore();
  }

  background(ctx) {
    const g = ctx.createLinearGradient(0, 0, 0, REF);
    g.addColorStop(0, LOOK.bg[0]);
    g.addColorStop(1, LOOK.bg[1]);
    ctx.fillStyle = g;
    ctx.fillRect(0, 0, REF, REF);
  }

  body(ctx, fx) {
    // shoulders and shirt
    ctx.fillStyle = LOOK.shirt;
    ctx.beginPath();
    ctx.moveTo(40, REF + 10);
    ctx.bezierCurveTo(50, 430, 120, 402, 196, 394);
    ctx.lineTo(316, 394);
    ctx.bezierCurveTo(392, 402, 462, 430, 472, REF + 10);
    ctx.closePath();
    ctx.fill();
    // neck
    const ng = ctx.createLinearGradient(220, 0, 292, 0);
    ng.addColorStop(0, LOOK.skinShade);
    ng.addColorStop(0.5, LOOK.skin);
    ng.addColorStop(1, LOOK.skinShade);
    ctx.fillStyle = ng;
    ctx.beginPath();
    ctx.moveTo(222 + fx * 0.1, 330);
    ctx.lineTo(218, 404);
    ctx.quadraticCurveTo(256, 428, 294, 404);
    ctx.lineTo(290 + fx * 0.1, 330);
    ctx.closePath();
    ctx.fill();
    // collar shadow
    ctx.fillStyle = LOOK.shirtShade;
    ctx.beginPath();
    ctx.moveTo(200, 396);
    ctx.quadraticCurveTo(256, 446, 312, 396);
    ctx.quadraticCurveTo(256, 428, 200, 396);
    ctx.fill();
  }

  headShape(ctx, fx, fy) {
    const jaw = this.v("jawOpen");
    const puff = this.v("cheekPuff");
    const chin = 388 + jaw * 22;
    const cheek = 116 + puff * 10;
    const x = HEAD.x;
    // ears, behind the face
    for (const side of [-1, 1]) {
      const ex = x + side * (cheek - 4) - fx * 0.25;
      ctx.fillStyle = LOOK.skinShade;
      ctx.beginPath();
      ctx.ellipse(ex, 246 - fy * 0.2, 16, 27, side * 0.15, 0, Math.PI * 2);
      ctx.fill();
      ctx.fillStyle = LOOK.skin;
      ctx.beginPath();
      ctx.ellipse(ex - side * 2, 246 - fy * 0.2, 10, 19, side * 0.15, 0, Math.PI * 2);
      ctx.fill();
    }
    // hair behind the head: fills between the fringe and the temples
    ctx.fillStyle = LOOK.hair;
    ctx.beginPath();
    ctx.ellipse(x - fx * 0.15, 184, 126, 128, 0, Math.PI * 0.92, Math.PI * 2.08);
    ctx.closePath();
    ctx.fill();
    // face
    const face = new Path2D();
    face.moveTo(x, 92);
    face.bezierCurveTo(x + 74, 92, x + cheek + 4, 146, x + cheek, 232);
    face.bezierCurveTo(x + cheek - 4, 300, x + 78, chin - 20, x, chin);
    face.bezierCurveTo(x - 78, chin - 20, x - cheek + 4, 300, x - cheek, 232);
    face.bezierCurveTo(x - cheek - 4, 146, x - 74, 92, x, 92);
    const fg = ctx.createRadialGradient(x - 30 + fx * 0.3, 200, 40, x, 240, 190);
    fg.addColorStop(0, LOOK.skin);
    fg.addColorStop(0.72, LOOK.skin);
    fg.addColorStop(1, LOOK.skinShade);
    ctx.fillStyle = fg;
    ctx.fill(face);
    // blush
    for (const side of [-1, 1]) {
      const squint = this.v(side > 0 ? "cheekSquintLeft" : "cheekSquintRight");
      const bg = ctx.createRadialGradient(x + side * 66 + fx * 0.6, 284 - squint * 6 + fy * 0.5,
        2, x + side * 66 + fx * 0.6, 284 - squint * 6 + fy * 0.5, 30 + puff * 8);
      bg.addColorStop(0, "rgba(240,140,132,0.45)");
      bg.addColorStop(1, "rgba(240,140,132,0)");
      ctx.fillStyle = bg;
      ctx.fillRect(x + side * 66 - 45 + fx * 0.6, 240 + fy * 0.5, 90, 90);
    }
    this.hair(ctx, fx, fy);
    for (const side of [-1, 1]) this.eye(ctx, side, fx, fy);
    for (const side of [-1, 1]) this.brow(ctx, side, fx, fy);
    this.nose(ctx, fx, fy);
    this.mouth(ctx, fx, fy, jaw);
  }

  hair(ctx, fx) {
    const x = HEAD.x - fx * 0.15;
    ctx.fillStyle = LOOK.hair;
    ctx.beginPath();
    ctx.moveTo(x - 120, 206);
    ctx.bezierCurveTo(x - 134, 110, x - 80, 58, x + 4, 58);
    ctx.bezierCurveTo(x + 92, 56, x + 136, 104, x + 122, 206);
    ctx.bezierCurveTo(x + 116, 170, x + 110, 150, x + 96, 134);
    // the swept fringe
    ctx.bezierCurveTo(x + 40, 150, x - 40, 140, x - 70, 118);
    ctx.bezierCurveTo(x - 92, 140, x - 110, 160, x - 120, 206);
    ctx.closePath();
    ctx.fill();
    ctx.strokeStyle = LOOK.hairShine;
    ctx.lineWidth = 4;
    ctx.lineCap = "round";
    for (const [a, b, c] of [[-60, 78, 30], [-20, 70, 60], [24, 72, 82]]) {
      ctx.beginPath();
      ctx.moveTo(x + a, b);
      ctx.quadraticCurveTo(x + a + 30, b + 10, x + c, b + 38);
      ctx.stroke();
    }
  }

  eye(ctx, side, fx, fy) {
    // side +1: picture right = the character's left
    const n = side > 0 ? "Left" : "Right";
    const blink = this.v(`eyeBlink${n}`);
    const squint = this.v(`eyeSquint${n}`);
    const wide = this.v(`eyeWide${n}`);
    const ex = HEAD.x + side * 48 + fx * 0.7;
    const ey = 226 + fy * 0.6;
    const rx = 22;
    const open = Math.max(0, 1 - blink) * (1 - 0.35 * squint) * (1 + 0.3 * wide);
    const ry = 15 * open;
    // where the eye looks: In = towards the nose
    const lookX = (this.v(`eyeLookOut${n}`) - this.v(`eyeLookIn${n}`)) * side * 8;
    const lookY = (this.v(`eyeLookDown${n}`) - this.v(`eyeLookUp${n}`)) * 6;
    ctx.save();
    if (ry > 0.8) {
      const white = new Path2D();
      white.ellipse(ex, ey, rx, ry, 0, 0, Math.PI * 2);
      ctx.fillStyle = "#ffffff";
      ctx.fill(white);
      ctx.clip(white);
      ctx.fillStyle = LOOK.iris;
      ctx.beginPath();
      ctx.arc(ex + lookX, ey + lookY, 11, 0, Math.PI * 2);
      ctx.fill();
      ctx.fillStyle = "#1d2430";
      ctx.beginPath();
      ctx.arc(ex + lookX, ey + lookY, 5.5, 0, Math.PI * 2);
      ctx.fill();
      ctx.fillStyle = "rgba(255,255,255,0.9)";
      ctx.beginPath();
      ctx.arc(ex + lookX - 4, ey + lookY - 4, 2.6, 0, Math.PI * 2);
      ctx.fill();
    }
    ctx.restore();
    // upper lid line (and the closed lid when blinking)
    ctx.strokeStyle = "#3b2a22";
    ctx.lineWidth = 3.2;
    ctx.lineCap = "round";
    ctx.beginPath();
    ctx.moveTo(ex - rx - 3, ey + 1);
    ctx.quadraticCurveTo(ex, ey - Math.max(ry, 1.5) * 2 + 1, ex + rx + 3, ey + 1);
    ctx.stroke();
    if (ry <= 0.8) {
      ctx.lineWidth = 2.4;
      ctx.beginPath();
      ctx.moveTo(ex - rx, ey + 2);
      ctx.quadraticCurveTo(ex, ey + 7, ex + rx, ey + 2);
      ctx.stroke();
    }
  }

  brow(ctx, side, fx, fy) {
    const n = side > 0 ? "Left" : "Right";
    const inner = this.v("browInnerUp") * 10 - this.v(`browDown${n}`) * 7;
    const outer = this.v(`browOuterUp${n}`) * 10 - this.v(`browDown${n}`) * 3;
    const bx = HEAD.x + side * 48 + fx * 0.7;
    const by = 192 + fy * 0.6;
    ctx.strokeStyle = LOOK.brow;
    ctx.lineWidth = 7;
    ctx.lineCap = "round";
    ctx.beginPath();
    ctx.moveTo(bx - side * 24, by - inner + 2);
    ctx.quadraticCurveTo(bx, by - 8 - (inner + outer) / 2, bx + side * 26, by - outer + 4);
    ctx.stroke();
  }

  nose(ctx, fx, fy) {
    const sneer = (this.v("noseSneerLeft") + this.v("noseSneerRight")) / 2;
    const nx = HEAD.x + fx * 0.95;
    const ny = 272 + fy * 0.8 - sneer * 3;
    ctx.strokeStyle = LOOK.skinShade;
    ctx.lineWidth = 3;
    ctx.lineCap = "round";
    ctx.beginPath();
    ctx.moveTo(nx - 2, ny - 34);
    ctx.quadraticCurveTo(nx + 6, ny - 12, nx + 3, ny);
    ctx.stroke();
    ctx.fillStyle = "rgba(190,120,95,0.55)";
    for (const side of [-1, 1]) {
      ctx.beginPath();
      ctx.ellipse(nx + side * 8, ny + 2, 4.5, 3, 0, 0, Math.PI * 2);
      ctx.fill();
    }
  }

  mouth(ctx, fx, fy, jaw) {
    const v = (n) => this.v(n);
    const close = v("mouthClose");
    const round = Math.max(v("mouthFunnel"), v("mouthPucker"));
    const pucker = v("mouthPucker");
    const smileL = v("mouthSmileLeft"), smileR = v("mouthSmileRight");
    const frownL = v("mouthFrownLeft"), frownR = v("mouthFrownRight");
    const stretch = (v("mouthStretchLeft") + v("mouthStretchRight")) / 2;
    const press = (v("mouthPressLeft") + v("mouthPressRight")) / 2;
    const rollLower = v("mouthRollLower"), rollUpper = v("mouthRollUpper");
    const lowerDown = (v("mouthLowerDownLeft") + v("mouthLowerDownRight")) / 2;
    const upperUp = (v("mouthUpperUpLeft") + v("mouthUpperUpRight")) / 2;
    const shift = (v("mouthLeft") - v("mouthRight")) * 10 + (v("jawLeft") - v("jawRight")) * 4;

    const cx = HEAD.x + fx * 0.85 + shift;
    const cy = 322 + fy * 0.7 + jaw * 6;
    const gap = Math.max(0, jaw - close) * LIP_GAP * (1 - 0.25 * round)
      + lowerDown * 4 + upperUp * 3;
    const half = 34 + (smileL + smileR) * 5 + stretch * 8 - round * 15 - pucker * 5;
    const upperY = cy - gap * 0.28 - upperUp * 3;
    const lowerY = cy + gap * 0.72;
    // corners: the character's left is the picture's right (+x)
    const cornerR = cy - smileL * 8 + frownL * 7;
    const cornerL = cy - smileR * 8 + frownR * 7;
    // 0.55: lens-shaped opening; 1: a round "O"
    const k = 0.55 + 0.45 * round;
    const tU = (8 + round * 5) * (1 - 0.55 * rollUpper) * (1 - 0.35 * press);
    const tL = (11 + round * 5) * (1 - 0.6 * rollLower) * (1 - 0.35 * press);
    const lx = cx - half, rx = cx + half;

    // lips: the outer outline (upper with a cupid's bow, lower full)
    const lips = new Path2D();
    lips.moveTo(lx - 2, cornerL);
    lips.bezierCurveTo(lx + half * 0.25, upperY - tU * 0.9, cx - 10, upperY - tU * 1.25,
      cx, upperY - tU + 2);
    lips.bezierCurveTo(cx + 10, upperY - tU * 1.25, rx - half * 0.25, upperY - tU * 0.9,
      rx + 2, cornerR);
    lips.bezierCurveTo(rx - half * (1 - k) * 0.6, lowerY + tL * 1.1, cx + half * 0.5,
      lowerY + tL, cx, lowerY + tL);
    lips.bezierCurveTo(cx - half * 0.5, lowerY + tL, lx + half * (1 - k) * 0.6,
      lowerY + tL * 1.1, lx - 2, cornerL);
    lips.closePath();
    const lg = ctx.createLinearGradient(0, upperY - tU, 0, lowerY + tL);
    lg.addColorStop(0, LOOK.lipsDark);
    lg.addColorStop(0.45, LOOK.lips);
    lg.addColorStop(1, LOOK.lips);
    ctx.fillStyle = lg;
    ctx.fill(lips);

    // the opening between the lips
    const inner = new Path2D();
    inner.moveTo(lx, cornerL);
    inner.bezierCurveTo(lx + half * (1 - k), upperY - gap * 0.1 * k, cx - half * k * 0.9,
      upperY, cx, upperY);
    inner.bezierCurveTo(cx + half * k * 0.9, upperY, rx - half * (1 - k),
      upperY - gap * 0.1 * k, rx, cornerR);
    inner.bezierCurveTo(rx - half * (1 - k), lowerY, cx + half * k * 0.9, lowerY, cx, lowerY);
    inner.bezierCurveTo(cx - half * k * 0.9, lowerY, lx + half * (1 - k), lowerY, lx, cornerL);
    inner.closePath();
    if (gap > 0.8) {
      ctx.save();
      ctx.fillStyle = LOOK.mouth;
      ctx.fill(inner);
      ctx.clip(inner);
      // upper teeth hang from the upper lip; the tongue lies low, moving with the jaw
      ctx.fillStyle = LOOK.teeth;
      ctx.fillRect(cx - half * 0.8, upperY - 2, half * 1.6, Math.min(9, gap * 0.45) + 2);
      ctx.fillStyle = LOOK.tongue;
      ctx.beginPath();
      ctx.ellipse(cx, lowerY + 4, half * 0.62, Math.max(4, gap * 0.32), 0, 0, Math.PI * 2);
      ctx.fill();
      ctx.restore();
    }
    // the line where the lips meet (always drawn, darker when sealed)
    ctx.strokeStyle = gap > 0.8 ? "rgba(110,40,44,0.55)" : "#7b3134";
    ctx.lineWidth = gap > 0.8 ? 1.5 : 2.6;
    ctx.stroke(inner);
    // f/v: the lower lip tucks under the upper teeth, which show over it
    if (rollLower > 0.15) {
      ctx.fillStyle = LOOK.teeth;
      ctx.globalAlpha = Math.min(1, (rollLower - 0.15) * 2.5);
      ctx.beginPath();
      ctx.roundRect(cx - half * 0.62, upperY - 1, half * 1.24, 3 + 5 * rollLower, 2);
      ctx.fill();
      ctx.globalAlpha = 1;
    }
    // a soft highlight on the lower lip
    ctx.strokeStyle = "rgba(255,220,210,0.45)";
    ctx.lineWidth = 2.5;
    ctx.lineCap = "round";
    ctx.beginPath();
    ctx.moveTo(cx - half * 0.3, lowerY + tL * 0.55);
    ctx.quadraticCurveTo(cx, lowerY + tL * 0.7, cx + half * 0.3, lowerY + tL * 0.55);
    ctx.stroke();
    // dimples at the corners for smiles
    ctx.strokeStyle = "rgba(180,110,90,0.5)";
    ctx.lineWidth = 2;
    for (const [x0, y0, s, amt] of [[lx, cornerL, -1, smileR], [rx, cornerR, 1, smileL]]) {
      if (amt > 0.1) {
        ctx.beginPath();
        ctx.arc(x0 + s * 4, y0 - 2, 6, s > 0 ? -0.9 : Math.PI - 0.6, s > 0 ? 0.6 : Math.PI + 0.9);
        ctx.stroke();
      }
    }
  }
}

/** Linear interpolation between the frames of a full-result animation at time t (seconds). */
export function sampleAnimation(animation, t) {
  const { fps, channels, values } = animation;
  if (!values.length) return { values: {}, head: [0, 0, 0] };
  const pos = Math.max(0, Math.min(values.length - 1, t * fps));
  const i = Math.floor(pos);
  const j = Math.min(values.length - 1, i + 1);
  const w = pos - i;
  const out = {};
  const head = [0, 0, 0];
  channels.forEach((name, c) => {
    const x = values[i][c] * (1 - w) + values[j][c] * w;
    if (name === "headYaw") head[0] = x;
    else if (name === "headPitch") head[1] = x;
    else if (name === "headRoll") head[2] = x;
    else out[name] = x;
  });
  return { values: out, head };
}
