-- CreateTable
CREATE TABLE "Poem" (
    "id" INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    "guildId" TEXT NOT NULL,
    "channelId" TEXT NOT NULL,
    "userId" TEXT NOT NULL,
    "promptKind" TEXT NOT NULL,
    "promptText" TEXT NOT NULL DEFAULT '',
    "form" TEXT NOT NULL,
    "script" TEXT NOT NULL,
    "text" TEXT NOT NULL,
    "checkpointVersion" TEXT NOT NULL,
    "messageId" TEXT,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP
);

-- CreateTable
CREATE TABLE "Rating" (
    "id" INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    "poemId" INTEGER NOT NULL,
    "userId" TEXT NOT NULL,
    "stars" INTEGER NOT NULL,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" DATETIME NOT NULL,
    CONSTRAINT "Rating_poemId_fkey" FOREIGN KEY ("poemId") REFERENCES "Poem" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);

-- CreateIndex
CREATE UNIQUE INDEX "Poem_messageId_key" ON "Poem"("messageId");

-- CreateIndex
CREATE INDEX "Poem_createdAt_idx" ON "Poem"("createdAt");

-- CreateIndex
CREATE INDEX "Poem_guildId_createdAt_idx" ON "Poem"("guildId", "createdAt");

-- CreateIndex
CREATE UNIQUE INDEX "Rating_poemId_userId_key" ON "Rating"("poemId", "userId");

