// Indexed reads the engine knows are in range (an index it computed
// itself): a missing element is a bug, so these throw rather than let an
// `undefined` flow on. Small enough for V8 to inline in the hot loops.

export function at<T>(items: ArrayLike<T>, index: number): T {
  const value = items[index];
  if (value === undefined) throw new RangeError(`index ${index} is outside 0..${items.length - 1}`);
  return value;
}

export function present<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new RangeError(`${what} is missing`);
  return value;
}
