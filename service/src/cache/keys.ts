/** Cache keys of a book: one by id, one by (current) name. Messages carry these verbatim. */
export const idKey = (id: string): string => `id:${id}`;
export const nameKey = (name: string): string => `name:${name}`;

/** Whether a key in a message about book `id` is one that book can own. */
export const isKeyOfBook = (key: string, id: string): boolean => key === idKey(id) || key.startsWith('name:');
