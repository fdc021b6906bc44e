// Types of bundle.js, which is plain JavaScript because it runs before anything is compiled.
export declare function bundle(entry: string, outdir: string): Promise<string>;
export declare function bundleBroker(outdir: string): Promise<string>;
