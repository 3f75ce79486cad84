import { closeSync, constants, promises as fsp, fstatSync, openSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { readInputFile } from '../bnn/files';
import { checkClassNames, parseClassFile } from '../class-names';
import { at, must } from '../defined';
import { UserError } from '../errors';
import { fsError } from '../fs-errors';
import { formatMiB, MAX_IMAGE_FILE_BYTES } from '../input-limits';
import { isImageName, JUNK_DIRS, JUNK_NAMES, MAX_CLASSES, MIN_CLASSES } from './limits';
import { FileTooLargeError, openZip } from './zip';

/** One image file of the source, labelled by its class folder. */
export interface SourceImage {
  classIndex: number;
  /** Path relative to the dataset root, '/'-separated, starting with the class folder: `cat/img_01.png`. */
  path: string;
  /** `reserve(bytes)` is awaited once the file's size is known and before it is read (a memory budget). */
  read(reserve?: Reserve): Promise<Buffer>;
}

/** Waits until `bytes` more may be held in memory (see decodeAll's budget). */
export type Reserve = (bytes: number) => Promise<void>;

export interface DatasetSource {
  kind: 'folder' | 'zip';
  /** The folder or zip the user named. */
  location: string;
  classNames: string[];
  /** Sorted by class index, then by path (code point order), so every run sees the same order. */
  images: SourceImage[];
  /** Files that are not images, or not inside a class folder (reported, not imported). */
  ignored: string[];
  close(): void;
}

interface Listing {
  files: { rel: string; read: (reserve?: Reserve) => Promise<Buffer> }[];
  directories: string[];
  /** Entries the walk did not take, with why (symbolic links out of the source, loops, second paths). */
  ignored?: string[];
}

const byCodePoint = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

const isJunk = (rel: string): boolean =>
  rel
    .split('/')
    .some(
      (seg) => seg.startsWith('.') || JUNK_DIRS.has(seg.toLowerCase()) || JUNK_NAMES.has(seg.toLowerCase()),
    );

/**
 * One image file, read whole after checking on the open file that it is a regular file of at most
 * MAX_IMAGE_FILE_BYTES (a FIFO would block, a huge file would fill memory). Synchronous reads on purpose:
 * for small image files it costs ~0.02 ms of CPU against ~0.1 ms for fs.promises.readFile (four thread-pool
 * round trips), and decoding is CPU-bound anyway.
 */
async function readImageFile(abs: string, reserve?: Reserve): Promise<Buffer> {
  const fd = openSync(abs, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new FileTooLargeError('not a regular file');
    if (st.size > MAX_IMAGE_FILE_BYTES)
      throw new FileTooLargeError(
        `too large (${formatMiB(st.size)}; an image file may be at most ${formatMiB(MAX_IMAGE_FILE_BYTES)})`,
      );
    await reserve?.(st.size);
    return readFileSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * Walks a dataset folder. Policy (docs/datasets.md, "Symbolic links"): a symbolic link is followed only when
 * its real target lies inside the source folder; links that leave it, dangle, or lead back into a folder
 * already walked (a loop) are not followed and are listed as ignored. Every file is taken once, by its real
 * path: a second path to the same file in the same class is ignored; in another class it is an error (which
 * label would it have?). A folder that cannot be read is named.
 */
async function listFolder(root: string): Promise<Listing> {
  const files: Listing['files'] = [];
  const directories: string[] = [];
  const ignored: string[] = [];
  const rootReal = await fsp.realpath(root);
  const walkedDirs = new Set<string>([rootReal]);
  const fileAt = new Map<string, string>();
  const within = (p: string) => p === rootReal || p.startsWith(`${rootReal}${path.sep}`);
  const walk = async (rel: string, dirReal: string): Promise<void> => {
    const dir = rel ? path.join(root, rel) : root;
    let entries: import('node:fs').Dirent[];
    try {
      entries = await fsp.readdir(dir, { withFileTypes: true });
    } catch (err) {
      throw fsError(err, {
        path: dir,
        what: rel ? 'cannot read the class folder' : 'cannot read the source folder',
      });
    }
    for (const e of entries) {
      const childRel = rel ? `${rel}/${e.name}` : e.name;
      const abs = path.join(dir, e.name);
      let real = path.join(dirReal, e.name);
      let isDir = e.isDirectory();
      let isFile = e.isFile();
      if (e.isSymbolicLink()) {
        const target = await fsp.realpath(abs).catch(() => undefined);
        if (target === undefined) {
          ignored.push(`${childRel} (dangling or looping symbolic link, not followed)`);
          continue;
        }
        if (!within(target)) {
          ignored.push(`${childRel} (symbolic link to ${target}, outside the source: not followed)`);
          continue;
        }
        const st = await fsp.stat(abs).catch(() => undefined);
        real = target;
        isDir = st?.isDirectory() ?? false;
        isFile = st?.isFile() ?? false;
      }
      if (isDir) {
        if (walkedDirs.has(real)) {
          ignored.push(`${childRel} (link to a folder already walked: not followed twice)`);
          continue;
        }
        walkedDirs.add(real);
        directories.push(childRel);
        await walk(childRel, real);
      } else if (isFile) {
        const earlier = fileAt.get(real);
        if (earlier !== undefined) {
          if (
            earlier.split('/')[0] !== childRel.split('/')[0] &&
            childRel.includes('/') &&
            earlier.includes('/')
          )
            throw new UserError(
              `${path.join(root, childRel)} and ${path.join(root, earlier)} are the same file (a link) in two class folders; a file can have only one label: remove one of them`,
            );
          ignored.push(`${childRel} (the same file as ${earlier}: imported once)`);
          continue;
        }
        fileAt.set(real, childRel);
        files.push({ rel: childRel, read: (reserve) => readImageFile(abs, reserve) });
      }
    }
  };
  await walk('', rootReal);
  return { files, directories, ignored };
}

/**
 * The widely used image-folder layout: `<root>/<class>/<any sub-folders>/<image>`. A root that
 * holds nothing but a single folder of class folders (what zipping a folder produces) is unwrapped.
 */
function arrange(
  listing: Listing,
  kind: DatasetSource['kind'],
  location: string,
  classesOrder: string[] | undefined,
  classesFile: string | undefined,
  close: () => void,
): DatasetSource {
  let files = listing.files.filter((f) => !isJunk(f.rel));
  let dirs = listing.directories.filter((d) => !isJunk(d));
  const first = (rel: string) => must(rel.split('/')[0], `the first path segment of ${rel}`);
  const tops = new Set([...files.map((f) => first(f.rel)), ...dirs.map(first)]);
  const imageFiles = files.filter((f) => isImageName(f.rel));
  if (tops.size === 1 && imageFiles.length > 0 && imageFiles.every((f) => f.rel.split('/').length >= 3)) {
    const wrapper = `${[...tops][0]}/`;
    files = files
      .filter((f) => f.rel.startsWith(wrapper))
      .map((f) => ({ ...f, rel: f.rel.slice(wrapper.length) }));
    dirs = dirs.filter((d) => d.startsWith(wrapper)).map((d) => d.slice(wrapper.length));
  }
  const ignored: string[] = [...(listing.ignored ?? [])];
  const classFolders = new Set<string>(dirs.filter((d) => !d.includes('/')));
  for (const f of files) if (f.rel.includes('/')) classFolders.add(first(f.rel));
  if (classFolders.size === 0) {
    throw new UserError(
      `${location}: no class sub-folders found. Put the images of each class in a folder named after the class (${location}/cat/001.png, ${location}/dog/001.png, ...)`,
    );
  }
  checkClassNames([...classFolders].sort(byCodePoint), location, {
    lines: false,
    max: Number.POSITIVE_INFINITY,
  });
  let classNames: string[];
  if (classesOrder) {
    const listed = new Set(classesOrder);
    const unlisted = [...classFolders].filter((c) => !listed.has(c)).sort(byCodePoint);
    if (unlisted.length > 0)
      throw new UserError(
        `${classesFile}: class folder '${unlisted[0]}' of ${location} is not listed${unlisted.length > 1 ? ` (nor ${unlisted.length - 1} more: ${unlisted.slice(1, 6).join(', ')})` : ''}; add it to the classes file or remove the folder`,
      );
    classNames = classesOrder;
  } else {
    classNames = [...classFolders].sort(byCodePoint);
  }
  if (classNames.length > MAX_CLASSES)
    throw new UserError(
      `${location}: ${classNames.length} classes (first: ${classNames.slice(0, 3).join(', ')}, ...); the LFC overlay supports at most ${MAX_CLASSES}. Merge or drop ${classNames.length - MAX_CLASSES} class folder(s)`,
    );
  if (classNames.length < MIN_CLASSES)
    throw new UserError(
      `${location}: only one class ('${classNames[0]}'); a classifier needs at least ${MIN_CLASSES} class folders`,
    );
  const index = new Map(classNames.map((c, i) => [c, i]));
  const images: SourceImage[] = [];
  for (const f of files) {
    if (!f.rel.includes('/')) {
      ignored.push(`${f.rel} (not inside a class folder)`);
      continue;
    }
    if (!isImageName(f.rel)) {
      ignored.push(`${f.rel} (not an image file name)`);
      continue;
    }
    // Every class folder is a class (an unlisted one was refused above).
    const folder = first(f.rel);
    images.push({
      classIndex: must(index.get(folder), `class folder ${folder}'s class`),
      path: f.rel,
      read: f.read,
    });
  }
  images.sort((a, b) => a.classIndex - b.classIndex || byCodePoint(a.path, b.path));
  const counts = new Array<number>(classNames.length).fill(0);
  for (const im of images) counts[im.classIndex] = at(counts, im.classIndex, 'the class counts') + 1;
  const name = classNames.find((_, i) => counts[i] === 0);
  if (name !== undefined) {
    const why = classFolders.has(name)
      ? `folder ${name}/ holds no image files`
      : `listed in ${classesFile} but there is no folder ${name}/`;
    throw new UserError(`${location}: class '${name}' is empty (${why}); add images or remove the class`);
  }
  return { kind, location, classNames, images, ignored, close };
}

/** Reads `--classes <file>`: one class name per line, in label order (the shared rule, lib/class-names.ts). */
export async function readClassesFile(file: string): Promise<string[]> {
  const bytes = await readInputFile(file, '--classes');
  return parseClassFile(new TextDecoder().decode(bytes), file, {
    max: MAX_CLASSES,
    maxLabel: 'the LFC overlay',
  });
}

/** Scans a folder or a .zip of class folders. Checks the class limits before any image is decoded. */
export async function scanSource(
  location: string,
  options: { classesFile?: string } = {},
): Promise<DatasetSource> {
  const order = options.classesFile ? await readClassesFile(options.classesFile) : undefined;
  const st = await fsp.stat(location).catch(() => undefined);
  if (!st) throw new UserError(`${location}: no such folder or .zip file`);
  if (st.isDirectory()) {
    return arrange(await listFolder(location), 'folder', location, order, options.classesFile, () => {});
  }
  if (!location.toLowerCase().endsWith('.zip'))
    throw new UserError(
      `${location}: not a folder or a .zip file; pass a folder of class folders, or a zip of one`,
    );
  const zip = await openZip(location);
  try {
    const listing: Listing = {
      files: zip.files.map((f) => ({ rel: f.name, read: f.read })),
      directories: zip.directories,
    };
    return arrange(listing, 'zip', location, order, options.classesFile, () => zip.close());
  } catch (err) {
    zip.close();
    throw err;
  }
}
