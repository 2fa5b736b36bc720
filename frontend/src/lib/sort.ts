// Natural ordering: DEMO2 before DEMO10.
export const naturalCollator = new Intl.Collator(undefined, { numeric: true, sensitivity: "base" });

export const naturalCompare = (a: string, b: string): number => naturalCollator.compare(a, b);
