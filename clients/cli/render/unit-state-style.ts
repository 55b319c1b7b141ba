/**
 * How each unit state looks in the fragmentation map, in one table shared by the terminal
 * heatmap and the SVG so that the two pictures read the same. Every state has its own plain
 * character as well as a colour: the plain text must stand alone (pipes, NO_COLOR, colour-blind
 * readers), and the coloured cells keep the character on top.
 *
 * States as in resources.proto UnitState.
 */
import type { UnitState } from "../../node/src/resources.ts";

export interface UnitStateStyle {
  /** The legend's word for it. */
  readonly label: string;
  /** What the state means, for the legend and the SVG's tooltips. */
  readonly meaning: string;
  /** The plain-text cell: one distinct printable character per state. */
  readonly char: string;
  /** ANSI SGR parameters of a coloured cell: background and a readable foreground. */
  readonly sgr: string;
  readonly svgFill: string;
}

export const UNIT_STATE_STYLES: Readonly<Record<UnitState, UnitStateStyle>> = {
  free: { label: "free", meaning: "not leased, nothing populated", char: ".", sgr: "42;30", svgFill: "#b7e4a8" },
  leased: { label: "leased", meaning: "leased, 512 live pages of one visibility", char: "#", sgr: "44;97", svgFill: "#3b6fd1" },
  split: { label: "split", meaning: "leased, pages mixed shared and private", char: "%", sgr: "41;97", svgFill: "#d13b3b" },
  deferred: { label: "deferred", meaning: "leased, some pages discarded under the defer policy", char: "~", sgr: "43;30", svgFill: "#e3b505" },
  discarded: { label: "discarded", meaning: "leased, discarded whole (a hole in the lease)", char: "_", sgr: "45;97", svgFill: "#a64ca6" },
  claimed: { label: "claimed", meaning: "a kernel call on it is in flight", char: "c", sgr: "46;30", svgFill: "#3bb6c4" },
};

/** The legend's order. */
export const LEGEND_STATES: readonly UnitState[] = ["free", "leased", "split", "deferred", "discarded", "claimed"];
