/**
 * Comparison helpers for tests against the PyTorch reference: tolerance checks that report the worst error
 * and print the first mismatches (llm.c's habit), without stopping at the first failure.
 */
export interface Mismatch {
  what: string;
  index: number;
  got: number;
  want: number;
}

export class Report {
  readonly failures: string[] = [];
  worstOutput = 0;
  worstGrad = 0;
  checked = 0;
  /** what a case could not compare, and why (printed with its result) */
  readonly notes: string[] = [];

  /** Outputs: |got - want| <= atol + rtol * |want| element-wise. */
  outputs(what: string, got: ArrayLike<number>, want: ArrayLike<number>, atol = 1e-5, rtol = 1e-4): void {
    this.compare(what, got, want, (w) => atol + rtol * Math.abs(w), "output");
  }

  /**
   * Gradients: |got - want| <= frac * max|want| over the tensor, plus an absolute floor of 1e-9: some gradients
   * are zero in exact arithmetic (the attention key bias: softmax ignores a constant added to a row), so both
   * sides hold float rounding noise of ~1e-12 whose "largest magnitude" is no scale at all.
   */
  gradient(what: string, got: ArrayLike<number>, want: ArrayLike<number>, frac = 1e-4, floor = 1e-9): void {
    let mx = 0;
    for (let i = 0; i < want.length; i++) mx = Math.max(mx, Math.abs(want[i]));
    const tol = frac * mx + floor;
    this.compare(what, got, want, () => tol, "grad", tol);
  }

  /** Outputs with a tolerance of their own per element (an error bound propagated from an input's tolerance). */
  outputsWithin(what: string, got: ArrayLike<number>, want: ArrayLike<number>, tol: (w: number, i: number) => number): void {
    this.compare(what, got, want, tol, "output");
  }

  private compare(what: string, got: ArrayLike<number>, want: ArrayLike<number>, tol: (w: number, i: number) => number, kind: "output" | "grad", scale = 1): void {
    this.checked++;
    if (got.length !== want.length) {
      this.failures.push(`${what}: ${got.length} values, reference has ${want.length}`);
      return;
    }
    const bad: Mismatch[] = [];
    let nbad = 0;
    for (let i = 0; i < want.length; i++) {
      const g = got[i], w = want[i];
      const err = Math.abs(g - w);
      if (kind === "output") this.worstOutput = Math.max(this.worstOutput, err / (1e-5 + 1e-4 * Math.abs(w)));
      else this.worstGrad = Math.max(this.worstGrad, err / scale);
      if (!(err <= tol(w, i))) {
        nbad++;
        if (bad.length < 5) bad.push({ what, index: i, got: g, want: w });
      }
    }
    if (nbad) {
      const lines = bad.map((b) => `    [${b.index}] got ${b.got} want ${b.want} (diff ${Math.abs(b.got - b.want).toExponential(2)})`);
      this.failures.push(`${what}: ${nbad} of ${want.length} values out of tolerance; first:\n${lines.join("\n")}`);
    }
  }
}
