// Types of build.js, which is plain JavaScript because it runs before anything is compiled.
export declare const projectRoot: string;
export declare const compiledMain: string;
export declare function newestSource(root?: string): number;
export declare function buildIsStale(root?: string): boolean;
export declare function buildIfChanged(options?: { say?: (line: string) => void }): Promise<boolean>;
export declare function bundleCompiledMain(): Promise<void>;
