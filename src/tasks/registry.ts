/**
 * The one registry of task families: `--task NAME` (and the library's task names) -> a task bound to its data.
 * Adding a family is its module and one entry here.
 */
import { GLUE_TASK_NAMES, getGlueTask } from "../data/glue.js";
import { GlueTaskOnSeam } from "./glue.js";
import type { DataOptions, Task } from "./task.js";
import { MultipleChoiceTask } from "./multiple-choice.js";
import { SquadTask } from "./question-answering.js";
import { TextClassificationTask } from "./text-classification.js";
import { TokenClassificationTask } from "./token-classification.js";

export interface TaskFamily {
  /** the family's name and the task names it answers to */
  family: string;
  names: readonly string[];
  /** one line for --help */
  summary: string;
  create(name: string, data: DataOptions): Task;
}

export const TASK_FAMILIES: readonly TaskFamily[] = [
  {
    family: "glue", names: GLUE_TASK_NAMES,
    summary: `GLUE (${GLUE_TASK_NAMES.join(", ")}; also CoLA, SST-2, ...) from --data-dir, the GLUE data root`,
    create: (name, data) => new GlueTaskOnSeam(name, data),
  },
  {
    family: "token-classification", names: ["ner", "chunking", "token-classification"],
    summary: "ner, chunking, token-classification: CoNLL or JSONL files (--data-dir or --train-file)",
    create: (name, data) => new TokenClassificationTask(name, data),
  },
  {
    family: "question-answering", names: ["squad", "squad_v2"],
    summary: "squad (v1.1), squad_v2 (v2.0, unanswerable questions): the official JSON (--train-file, --validation-file)",
    create: (name, data) => new SquadTask(name, data),
  },
  {
    family: "multiple-choice", names: ["copa", "openbookqa", "swag", "multiple-choice"],
    summary: "copa (XML), openbookqa (TSV), swag (CSV), multiple-choice (JSONL {context, choices, label}): --train-file, --validation-file",
    create: (name, data) => new MultipleChoiceTask(name, data),
  },
  {
    family: "text-classification", names: ["text-classification"],
    summary: "text-classification: your own CSV / TSV / JSONL (--train-file, --text-column, --label-column, --regression)",
    create: (_name, data) => new TextClassificationTask(data),
  },
];

/** Every task name `--task` takes. */
export const TASK_NAMES: readonly string[] = TASK_FAMILIES.flatMap((f) => f.names);

function familyOf(name: string): { family: TaskFamily; name: string } {
  const n = name.toLowerCase();
  for (const f of TASK_FAMILIES) if (f.names.includes(n)) return { family: f, name: n };
  try {
    const g = getGlueTask(name); // GLUE display names: CoLA, SST-2, STS-B, ...
    return { family: TASK_FAMILIES[0], name: g.name };
  } catch {
    throw new Error(`unknown task ${JSON.stringify(name)}; the tasks: ${TASK_NAMES.join(", ")}`);
  }
}

/** The task `name` bound to its data. */
export function createTask(name: string, data: DataOptions): Task {
  const { family, name: n } = familyOf(name);
  return family.create(n, data);
}

/** One line per family, for --help. */
export function tasksHelp(): string {
  return TASK_FAMILIES.map((f) => f.summary).join("; ");
}
