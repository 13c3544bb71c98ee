/** Math datasets (JSONL / Parquet) with field mapping and detection of the benchmarks' exports. */
export { detectBenchmark, readDataset, resolveFields, toRow, type Dataset, type FieldMap, type MathRow, type ResolvedFields } from "./dataset.js";
