/** The cache key scheme of books, in one place: one key by id, one by (current) name. Messages carry these verbatim. */
export const idKey = (id: string): string => `id:${id}`;
export const nameKey = (name: string): string => `name:${name}`;
export const isIdKey = (key: string): boolean => key.startsWith('id:');

/** Every key a write of book `id` can leave stale: by id, and by each name it had or has now. */
export const keysOf = (id: string, names: (string | undefined)[]): string[] => [
  ...new Set([idKey(id), ...names.flatMap((name) => (name === undefined ? [] : [nameKey(name)]))]),
];

/** Whether a key in a message about book `id` is one that book can own (the sync layer receives this check). */
export const isKeyOfBook = (key: string, id: string): boolean => key === idKey(id) || key.startsWith('name:');

/** The author list's key, and the tags that evict it: its author, and each book it holds. */
export const authorKey = (author: string): string => `author:${author}`;
export const authorTag = (author: string): string => `author:${author}`;
export const bookTag = (id: string): string => `book:${id}`;

/** The tags a book cache may carry and messages may name (the sync layer receives this check). */
export const isBookTag = (tag: string): boolean =>
  /^book:[0-9a-f]{24}$/.test(tag) || (tag.startsWith('author:') && tag.length > 7 && tag.length <= 207);
