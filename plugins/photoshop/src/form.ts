// The panel's form: what the user chose. Pure data, with defaults.
import { CONTROL_TYPES as WIRE_CONTROL_TYPES, type ControlType, type JobKind } from "@layerbridge/common";

/** The panel's modes are the wire's image job kinds (Fill is `inpaint`); only their labels
 * differ. Training a LoRA is the tray's and the CLI's, not the panel's. */
export type Mode = Exclude<JobKind, "train">;

/** The control maps a layer can be used as ("none" is the wire's way to say no map). */
export const CONTROL_TYPES: readonly ControlType[] = WIRE_CONTROL_TYPES.filter((t) => t !== "none");

export interface LoraChoice {
  id: string;
  weight: number;
}

export interface ControlChoice {
  layerId: number;
  type: ControlType;
  strength: number;
}

export interface ExpandMargins {
  left: number;
  top: number;
  right: number;
  bottom: number;
}

export interface FormValues {
  model: string;
  prompt: string;
  negativePrompt: string;
  mode: Mode;
  /** refine/fill/expand: 0 keeps, 1 replaces. */
  strength: number;
  steps: number;
  seed: number;
  /** Locked: reuse `seed`; unlocked: the daemon picks one (shown afterwards). */
  seedLocked: boolean;
  variations: number;
  loras: LoraChoice[];
  controls: ControlChoice[];
  expand: ExpandMargins;
}

export const DEFAULT_FORM: FormValues = {
  model: "",
  prompt: "",
  negativePrompt: "",
  mode: "inpaint",
  strength: 1,
  steps: 20,
  seed: 0,
  seedLocked: false,
  variations: 3,
  loras: [],
  controls: [],
  expand: { left: 0, top: 0, right: 256, bottom: 0 },
};
