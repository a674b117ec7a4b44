/** The official CSV layout shared by Sudoku-Extreme and maze-30x30-hard-1k: its header, checked before any row. */
import { quote } from "../io/limits.js";
import { DatasetError } from "./format.js";

/** The official CSV header (Sudoku-Extreme, maze-30x30-hard-1k). */
export const CSV_HEADER = "source,question,answer,rating";

/** The lines of a CSV in the official layout, after checking its header (a file without one would lose a row). */
export function csvLines(text: string, file: string): string[] {
  const lines = text.split(/\r?\n/);
  const head = lines[0].replace(/^\uFEFF/, "").trim();
  if (head !== CSV_HEADER)
    throw new DatasetError(`${file}:1: expected the header "${CSV_HEADER}", found ${quote(head, 60)}`);
  return lines;
}
