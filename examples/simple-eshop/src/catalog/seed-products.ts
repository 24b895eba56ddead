import type pg from 'pg';

/** About twenty products with stock, inserted once. */
export const seedProducts = [
  ['trail-runner', 'Trail Runner Shoes', 'Light shoes with a grippy sole for muddy paths.', 8999, 40],
  ['rain-shell', 'Rain Shell', 'A packable waterproof jacket that breathes.', 12900, 25],
  ['wool-socks', 'Merino Socks', 'Three pairs of warm, itch-free merino socks.', 2400, 120],
  ['headlamp', 'Headlamp 400', 'A 400-lumen rechargeable headlamp.', 3900, 60],
  ['water-bottle', 'Steel Bottle', 'A 750 ml insulated steel bottle.', 2900, 80],
  ['daypack', 'Daypack 22L', 'A 22-litre pack with a rain cover.', 7400, 30],
  ['trekking-poles', 'Trekking Poles', 'Folding carbon poles, 290 g the pair.', 11900, 20],
  ['camp-mug', 'Camp Mug', 'A titanium mug that doubles as a pot.', 3400, 70],
  ['sun-hat', 'Sun Hat', 'A wide-brimmed hat with UPF 50.', 2900, 50],
  ['gaiters', 'Gaiters', 'Keeps stones and snow out of your boots.', 3900, 35],
  ['first-aid', 'First-Aid Kit', 'The essentials for a day out.', 2600, 45],
  ['map-case', 'Map Case', 'A waterproof case for maps and phones.', 1900, 55],
  ['compass', 'Baseplate Compass', 'A compass with a clinometer and a mirror.', 4400, 25],
  ['gloves', 'Fleece Gloves', 'Touch-screen friendly fleece gloves.', 2200, 65],
  ['buff', 'Neck Gaiter', 'A stretchy tube you can wear ten ways.', 1900, 90],
  ['stove', 'Canister Stove', 'Boils a litre in three minutes.', 5900, 15],
  ['sleeping-bag', 'Sleeping Bag −5°C', 'A down bag comfortable to −5 °C.', 24900, 10],
  ['tent', 'Two-Person Tent', 'A freestanding tent under 1.5 kg.', 34900, 8],
  ['bivvy', 'Bivvy Bag', 'An emergency bivvy for one.', 3900, 30],
  ['spork', 'Titanium Spork', 'The only cutlery you need.', 1200, 150],
] as const;

export async function seedCatalog(pool: pg.Pool): Promise<void> {
  for (const [id, name, description, priceCents, stock] of seedProducts) {
    await pool.query(
      `INSERT INTO shop_products (id, name, description, price_cents, image, stock, initial_stock)
       VALUES ($1, $2, $3, $4, $5, $6, $6) ON CONFLICT (id) DO NOTHING`,
      [id, name, description, priceCents, `/images/${id}.svg`, stock],
    );
  }
}
