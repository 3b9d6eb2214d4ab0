/**
 * `npm run seed`: demo users and the rooms of the original Django service's examples, and a fresh token for each
 * user to paste into the Kotlin example. Safe to run again: existing users and rooms are kept. Needs the server
 * stopped when it uses the embedded database, which serves one process.
 * @module
 */
import { loadConfig, loadEnvFile } from '../src/config.js'
import { openDatabase } from '../src/db/client.js'
import { hashPassword } from '../src/lib/password.js'
import { createRoomsRepository } from '../src/repositories/rooms.js'
import { createUsersRepository } from '../src/repositories/users.js'

/** The password of every demo user. */
const PASSWORD = 'chat-demo-password'
const people = [
  { username: 'anagh', firstName: 'Anagh', lastName: 'Singh' },
  { username: 'john_doe', firstName: 'John', lastName: 'Doe' },
  { username: 'jane_roe', firstName: 'Jane', lastName: 'Roe' }
]
const roomsToCreate = [
  { name: '2nd_year', description: 'Room for second-year students', members: ['anagh', 'john_doe', 'jane_roe'] },
  { name: 'backend_2_3', description: 'Backend team, years 2 and 3', members: ['anagh', 'john_doe'] }
]

loadEnvFile()
const config = loadConfig()
const database = await openDatabase({ databaseUrl: config.DATABASE_URL, dataDir: config.DATA_DIR, poolSize: 2 })
try {
  await database.migrate()
  const usersRepository = createUsersRepository(database.orm)
  const roomsRepository = createRoomsRepository(database.orm)
  const ids = new Map<string, number>()
  for (const person of people) {
    const user = await usersRepository.findByUsername(person.username) ??
      await usersRepository.create({ ...person, passwordHash: await hashPassword(PASSWORD, config.PASSWORD_SCRYPT_N) })
    ids.set(person.username, user.id)
  }
  for (const { name, description, members } of roomsToCreate) {
    const owner = ids.get(members[0]!)!
    const existing = await roomsRepository.findWithMember(name, owner)
    const room = existing?.room ?? await roomsRepository.create(owner, name, { description })
    for (const member of members) await roomsRepository.addMember(room.id, ids.get(member)!)
  }
  console.log(`Seeded ${database.kind} database. Password for every demo user: ${PASSWORD}\n`)
  for (const person of people) {
    console.log(`${person.username.padEnd(10)} token ${await usersRepository.issueToken(ids.get(person.username)!)}`)
  }
  console.log(`\nRooms: ${roomsToCreate.map((room) => room.name).join(', ')}`)
} finally {
  await database.close()
}
