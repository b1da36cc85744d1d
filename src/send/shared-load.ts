// One read at a time per key: the send worker's sessions often need the same account,
// bulk delivery or status at the same moment (at a worker's start, all of them at once).

/** `load(key)` once at a time per key: whoever asks while it runs gets the same promise. */
export function shared<K, V>(loads: Map<K, Promise<V>>, key: K, load: (key: K) => Promise<V>): Promise<V> {
  let p = loads.get(key);
  if (!p) {
    p = load(key).finally(() => loads.delete(key));
    loads.set(key, p);
  }
  return p;
}
