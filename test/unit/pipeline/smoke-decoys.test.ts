import { describe, expect, it } from 'vitest';
import { decoyHint } from '../../../src/elf/load-order.js';

describe("decoyHint: a smoke failure caused by one of the decoys says so", () => {
  it("names the decoy the loader took, by the path it printed (/lib64 on a merged-/usr image)", () => {
    expect(decoyHint('/opt/bin/php: error while loading shared libraries: /usr/lib64/libssl.so.3: invalid ELF header')).toBe(
      " (/usr/lib64/libssl.so.3 is the smoke test's decoy of a library the layer bundles, in /usr/lib64: something looked in the system's directories " +
        "before the layer's lib/, as it would on Lambda, where they hold Amazon Linux's own libssl.so.3)",
    );
    expect(decoyHint('/opt/bin/probe: error while loading shared libraries: /lib64/libprobe-inner.so: file too short')).toMatch(/^ \(\/lib64\/libprobe-inner\.so is the smoke test's decoy/);
  });

  it('says nothing for other failures', () => {
    expect(decoyHint('/opt/bin/php: error while loading shared libraries: libfoo.so.1: cannot open shared object file: No such file or directory')).toBe('');
    expect(decoyHint('PHP Fatal error: something else')).toBe('');
  });
});
