/**
 * Fake camera clips for Chromium's `--use-file-for-fake-video-capture`: a solid colour with a
 * small white square moving across it, so every frame differs (the encoder keeps sending) and
 * each person's video is recognisable by its colour. Written at test time into a temp dir.
 */
import { open } from 'node:fs/promises';

/** BT.601 limited-range Y'CbCr of colours that stay distinct after VP8 and scaling. */
export const CLIP_COLOURS = {
  red: { y: 81, u: 90, v: 240 },
  blue: { y: 41, u: 240, v: 110 },
  green: { y: 145, u: 54, v: 34 },
} as const;
export type ClipColour = keyof typeof CLIP_COLOURS;

export interface Y4mOptions {
  colour: ClipColour;
  width?: number;
  height?: number;
  fps?: number;
  /** Chromium loops the clip. */
  frames?: number;
}

export async function writeY4mClip(file: string, { colour, width = 320, height = 240, fps = 15, frames = 30 }: Y4mOptions): Promise<void> {
  const { y, u, v } = CLIP_COLOURS[colour];
  const chromaWidth = width / 2;
  const chromaHeight = height / 2;
  const square = Math.floor(height / 6);
  const handle = await open(file, 'w');
  try {
    await handle.write(`YUV4MPEG2 W${width} H${height} F${fps}:1 Ip A1:1 C420jpeg\n`);
    for (let frame = 0; frame < frames; frame++) {
      const luma = Buffer.alloc(width * height, y);
      const cb = Buffer.alloc(chromaWidth * chromaHeight, u);
      const cr = Buffer.alloc(chromaWidth * chromaHeight, v);
      // White square (Y 235, neutral chroma) sliding left to right.
      const left = Math.floor(((width - square) * frame) / Math.max(1, frames - 1));
      const top = Math.floor((height - square) / 2);
      for (let row = top; row < top + square; row++) luma.fill(235, row * width + left, row * width + left + square);
      for (let row = top / 2; row < (top + square) / 2; row++) {
        const start = Math.floor(row) * chromaWidth + Math.floor(left / 2);
        cb.fill(128, start, start + square / 2);
        cr.fill(128, start, start + square / 2);
      }
      await handle.write('FRAME\n');
      await handle.write(luma);
      await handle.write(cb);
      await handle.write(cr);
    }
  } finally {
    await handle.close();
  }
}
