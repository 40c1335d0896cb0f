// Types of native-target.mjs, for src/native.ts.
export declare const SOURCE_ADDON: string;
export declare function platformArchABI(platform?: string, arch?: string): string;
export declare function prebuiltPackageName(abi?: string): string;
export declare function prebuiltAddonPath(abi?: string): string | undefined;
export declare function addonPath(): string | undefined;
