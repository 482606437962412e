import { chooseGpuIds, choosePlacement, describeShortage, fitsWhenEmpty, type NodeCapacity } from './placement';

function node(id: string, overrides: Partial<NodeCapacity> = {}): NodeCapacity {
  return {
    id,
    group: 'cpu',
    labels: {},
    slots: 4,
    cpuMillis: 4000,
    memMb: 8192,
    gpus: [],
    usedSlots: 0,
    usedCpuMillis: 0,
    usedMemMb: 0,
    reservedGpuIndices: [],
    ...overrides,
  };
}

const gpus = (count: number, model = 'A100', memoryMb = 40_960) =>
  Array.from({ length: count }, (_, index) => ({ index, model, memoryMb }));
const gpuNode = (id: string, overrides: Partial<NodeCapacity> = {}) => node(id, { group: 'gpu', gpus: gpus(4), ...overrides });

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

  it('honours worker group and label selectors', () => {
    const nodes = [node('a', { labels: { zone: 'x' } }), node('b', { group: 'batch', labels: { zone: 'y' } })];
    expect(choosePlacement(nodes, cpuJob, { labels: { zone: 'y' } })?.nodeId).toBe('b');
    expect(choosePlacement(nodes, cpuJob, { workerGroup: 'batch' })?.nodeId).toBe('b');
    expect(choosePlacement(nodes, cpuJob, { workerGroup: 'cpu', labels: { zone: 'y' } })).toBeNull();
  });

  it('gives only GPUs of the requested model and memory', () => {
    const mixed = gpuNode('m', { gpus: [...gpus(2, 'T4', 16_384), { index: 2, model: 'A100', memoryMb: 81_920 }, { index: 3, model: 'A100', memoryMb: 81_920 }] });
    expect(choosePlacement([mixed], { ...cpuJob, gpu: 2 }, { gpuModel: 'A100' })).toEqual({ nodeId: 'm', gpuIds: [2, 3] });
    expect(choosePlacement([mixed], { ...cpuJob, gpu: 1 }, { gpuMemoryMb: 40_000 })).toEqual({ nodeId: 'm', gpuIds: [2] });
    expect(choosePlacement([mixed], { ...cpuJob, gpu: 3 }, { gpuModel: 'A100' })).toBeNull();
    expect(fitsWhenEmpty(mixed, { ...cpuJob, gpu: 3 }, { gpuModel: 'A100' })).toBe(false);
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
    expect(describeShortage([node('a', { usedSlots: 4 }), node('b', { usedCpuMillis: 3500 })], cpuJob)).toBe(
      'no single node has all requested resources free at once',
    );
  });
});
