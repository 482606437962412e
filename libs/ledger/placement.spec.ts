import { chooseGpuIds, choosePlacement, describeShortage, fitsWhenEmpty, type NodeCapacity } from './placement';

function node(id: string, overrides: Partial<NodeCapacity> = {}): NodeCapacity {
  return {
    id,
    group: 'cpu',
    slots: 4,
    cpuMillis: 4000,
    memMb: 8192,
    gpuIndices: [],
    usedSlots: 0,
    usedCpuMillis: 0,
    usedMemMb: 0,
    reservedGpuIndices: [],
    ...overrides,
  };
}

const gpuNode = (id: string, overrides: Partial<NodeCapacity> = {}) =>
  node(id, { group: 'gpu', gpuIndices: [0, 1, 2, 3], ...overrides });

const cpuJob = { cpuMillis: 1000, memMb: 256, gpu: 0 };

describe('choosePlacement', () => {
  it('returns null when no node has a free slot, cpu, memory or GPU', () => {
    expect(choosePlacement([node('a', { usedSlots: 4 })], cpuJob)).toBeNull();
    expect(choosePlacement([node('a', { usedCpuMillis: 3500 })], cpuJob)).toBeNull();
    expect(choosePlacement([node('a', { usedMemMb: 8000 })], cpuJob)).toBeNull();
    expect(choosePlacement([gpuNode('g', { reservedGpuIndices: [0, 1, 2] })], { ...cpuJob, gpu: 2 })).toBeNull();
  });

  it('fits exactly at capacity', () => {
    expect(choosePlacement([node('a', { usedSlots: 3, usedCpuMillis: 3000, usedMemMb: 7936 })], cpuJob)).toEqual({
      nodeId: 'a',
      gpuIds: [],
    });
  });

  it('never places on an excluded node, even when it is the only one that fits', () => {
    expect(choosePlacement([node('lost'), node('b', { usedSlots: 4 })], cpuJob, ['lost'])).toBeNull();
    expect(choosePlacement([node('lost'), node('b')], cpuJob, ['lost'])?.nodeId).toBe('b');
  });

  it('spreads CPU jobs onto the emptiest node and keeps them off GPU nodes while a CPU node fits', () => {
    const nodes = [node('busy', { usedSlots: 2, usedCpuMillis: 2000 }), node('idle'), gpuNode('gpu')];
    expect(choosePlacement(nodes, cpuJob)?.nodeId).toBe('idle');
    expect(choosePlacement([node('full', { usedSlots: 4 }), gpuNode('gpu')], cpuJob)?.nodeId).toBe('gpu');
  });

  it('packs GPU jobs onto the fullest GPU node so whole nodes stay free', () => {
    const nodes = [gpuNode('empty'), gpuNode('half', { usedSlots: 1, reservedGpuIndices: [0, 1] })];
    expect(choosePlacement(nodes, { ...cpuJob, gpu: 1 })).toEqual({ nodeId: 'half', gpuIds: [2] });
  });

  it('puts a multi-GPU job on one node or nowhere', () => {
    const nodes = [gpuNode('a', { reservedGpuIndices: [0, 1, 2] }), gpuNode('b', { reservedGpuIndices: [1, 2, 3] })];
    expect(choosePlacement(nodes, { ...cpuJob, gpu: 2 })).toBeNull();
  });

  it('breaks ties by node id so the choice is deterministic', () => {
    expect(choosePlacement([node('b'), node('a')], cpuJob)?.nodeId).toBe('a');
  });
});

describe('chooseGpuIds', () => {
  it('prefers the smallest contiguous free run that fits', () => {
    expect(chooseGpuIds([0, 2, 3, 5, 6, 7], 2)).toEqual([2, 3]);
    expect(chooseGpuIds([0, 2, 3, 5, 6, 7], 1)).toEqual([0]);
    expect(chooseGpuIds([0, 2, 3, 5, 6, 7], 3)).toEqual([5, 6, 7]);
  });

  it('falls back to the lowest free ids when no run is long enough', () => {
    expect(chooseGpuIds([0, 2, 4], 2)).toEqual([0, 2]);
  });

  it('refuses more GPUs than are free', () => {
    expect(() => chooseGpuIds([1], 2)).toThrow(/need 2 GPUs, 1 free/);
  });
});

describe('fitsWhenEmpty and describeShortage', () => {
  it('tells a request that can never run from one that must wait', () => {
    expect(fitsWhenEmpty(node('a'), { cpuMillis: 4000, memMb: 8192, gpu: 0 })).toBe(true);
    expect(fitsWhenEmpty(node('a'), { cpuMillis: 5000, memMb: 256, gpu: 0 })).toBe(false);
    expect(fitsWhenEmpty(gpuNode('g'), { cpuMillis: 1000, memMb: 256, gpu: 5 })).toBe(false);
  });

  it('names the resource nobody has free', () => {
    expect(describeShortage([gpuNode('g', { reservedGpuIndices: [0, 1, 2, 3] })], { ...cpuJob, gpu: 1 })).toBe(
      'no node has enough free gpu',
    );
    expect(describeShortage([], cpuJob)).toBe('no live node in any worker group');
  });
});
