// AudioWorklet: microphone audio at the context's rate (typically 48 kHz) → 16 kHz PCM16 mono,
// posted to the page in 40 ms chunks (Int16Array, little-endian as the platform is).
// A Hann-windowed sinc low-pass (cut-off 7 kHz) removes what 16 kHz cannot carry, then
// samples are picked by linear interpolation at the output rate.

const OUT_RATE = 16000;
const CHUNK = 640; // 40 ms at 16 kHz
const TAPS = 63;

function lowpass(inRate) {
  const fc = Math.min(7000, OUT_RATE * 0.45) / inRate;
  const h = new Float32Array(TAPS);
  const m = (TAPS - 1) / 2;
  let sum = 0;
  for (let i = 0; i < TAPS; i++) {
    const x = i - m;
    const sinc = x === 0 ? 2 * fc : Math.sin(2 * Math.PI * fc * x) / (Math.PI * x);
    const w = 0.5 - 0.5 * Math.cos((2 * Math.PI * i) / (TAPS - 1));
    h[i] = sinc * w;
    sum += h[i];
  }
  for (let i = 0; i < TAPS; i++) h[i] /= sum;
  return h;
}

class PcmDownsampler extends AudioWorkletProcessor {
  constructor() {
    super();
    this.step = sampleRate / OUT_RATE;
    this.taps = lowpass(sampleRate);
    this.hist = new Float32Array(TAPS); // the last TAPS input samples (ring)
    this.h = 0;
    this.filtered = []; // low-passed samples not yet consumed
    this.pos = 0; // position of the next output sample in `filtered`
    this.out = new Int16Array(CHUNK);
    this.n = 0;
  }

  process(inputs) {
    const input = inputs[0];
    if (!input || !input.length) return true;
    const chans = input.length;
    const len = input[0].length;
    for (let i = 0; i < len; i++) {
      let x = 0;
      for (let c = 0; c < chans; c++) x += input[c][i];
      this.hist[this.h] = x / chans;
      this.h = (this.h + 1) % TAPS;
      let y = 0;
      for (let k = 0; k < TAPS; k++) y += this.taps[k] * this.hist[(this.h + k) % TAPS];
      this.filtered.push(y);
    }
    while (this.pos + 1 < this.filtered.length) {
      const i = Math.floor(this.pos);
      const w = this.pos - i;
      const y = this.filtered[i] * (1 - w) + this.filtered[i + 1] * w;
      this.out[this.n++] = Math.max(-32768, Math.min(32767, Math.round(y * 32767)));
      if (this.n === CHUNK) {
        this.port.postMessage(this.out.buffer, [this.out.buffer]);
        this.out = new Int16Array(CHUNK);
        this.n = 0;
      }
      this.pos += this.step;
    }
    const used = Math.floor(this.pos);
    this.filtered.splice(0, used);
    this.pos -= used;
    return true;
  }
}

registerProcessor("pcm-downsampler", PcmDownsampler);
